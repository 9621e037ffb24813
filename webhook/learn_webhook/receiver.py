"""The webhook receiver process: command line, uvicorn, ready line, clean SIGTERM.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> **receiver** -> demo.

    python -m learn_webhook.receiver --host 127.0.0.1 --port 9000 --secret whsec_... \\
        [--secret whsec_... (rotation)] [--github-secret TEXT] [--data-dir DIR] \\
        [--tolerance S] [--work-delay S] [--fail-first N] [--fail-status CODE] [--group-commit N] \\
        [--route direct|fastapi] [--loop auto] [-v | -q] \\
        [--no-verify] [--no-dedup]   (fault hooks: they turn off what the demo's acts 3 and 4 show)

(``--help`` shows the defaults; each is defined once, in the module that uses it.)

It prints ``= receiver listening on http://127.0.0.1:9000`` once it accepts
connections, then one trace line per delivery::

    < receiver POST /webhook id=msg_2KWP... type=invoice.paid (signature ok)
    > receiver 202 accepted
    = receiver processed msg_2KWP... type=invoice.paid
    < receiver POST /webhook id=msg_evil (signature mismatch)
    > receiver 401 signature mismatch
    > receiver 200 duplicate msg_2KWP...

``-v`` adds the webhook headers and the start of the body under each ``<`` line.
``-q`` (``--quiet``) keeps the ready line and errors only (for benchmarks).

``--data-dir`` holds the inbox (SQLite): which ids were accepted, and which are
processed.  Without it the inbox lives in a temporary directory deleted at exit;
give one to keep duplicates out across restarts and to process, after a crash,
what was accepted before it.  A port already in use exits 2 with a hint; SIGTERM
or Ctrl+C stops accepting, lets in-flight requests finish and exits 0 (events not
yet processed stay in the inbox for the next start).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path

from wirelab_common.asgi_server import TracedServer, config, data_directory, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .direct_route import DEFAULT_ROUTE, ROUTES, direct
from .group_commit import DEFAULT_MAX_BATCH
from .receiver_app import DEFAULT_FAIL_STATUS, ReceiverSettings, create_receiver_app
from .signatures import DEFAULT_TOLERANCE, decode_secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_webhook.receiver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=9000)  # --host --port --loop -v -q: the same in every server
    parser.add_argument("--secret", action="append", default=[], metavar="WHSEC",
                        help="a Standard Webhooks secret (whsec_...); repeat it while rotating")
    parser.add_argument("--github-secret", metavar="TEXT",
                        help="also accept GitHub's X-Hub-Signature-256 made with this secret")
    parser.add_argument("--data-dir", type=Path, help="where the inbox lives (default: a temp dir)")
    parser.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE,
                        help="seconds a webhook-timestamp may be off, either way (default %(default)s)")
    parser.add_argument("--work-delay", type=float, default=0.0,
                        help="seconds of simulated work per event (processing happens after the 202)")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N",
                        help="answer the first N deliveries with --fail-status, on purpose")
    parser.add_argument("--no-verify", action="store_true",
                        help="accept any signature (only to show what verification stops: the demo's act 3)")
    parser.add_argument("--no-dedup", action="store_true",
                        help="process a repeated webhook-id again (only to show what dedup stops: act 4)")
    parser.add_argument("--fail-status", type=int, default=DEFAULT_FAIL_STATUS,
                        help="status for failures on purpose (default %(default)s)")
    parser.add_argument("--group-commit", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
                        help="inbox writes per transaction (fsync) at most; 1: one each "
                             "(default %(default)s)")
    parser.add_argument("--route", choices=ROUTES, default=DEFAULT_ROUTE,
                        help="POST /webhook: direct to its handler (direct_route.py) or through FastAPI "
                             "(default %(default)s)")
    args = parser.parse_args(argv)
    if args.group_commit < 1:
        parser.error("--group-commit must be >= 1")
    if not args.secret and not args.github_secret:
        parser.error("give at least one --secret whsec_... (or --github-secret)")
    for secret in args.secret:
        try:
            decode_secret(secret)
        except ValueError as exc:
            parser.error(f"--secret: {exc}")
    if args.tolerance < 0 or args.work_delay < 0 or args.fail_first < 0:
        parser.error("--tolerance, --work-delay and --fail-first must be >= 0")
    if not 400 <= args.fail_status <= 599:
        parser.error("--fail-status must be a 4xx or 5xx code")
    return args


def describe(settings: ReceiverSettings) -> Callable[[str, int], list[str]]:
    """The detail lines under the ready line."""
    def lines(host: str, port: int) -> list[str]:
        s = settings
        return [
            f"webhooks: POST http://{host}:{port}/webhook",
            f"Standard Webhooks secrets: {len(s.secrets)}; "
            f"GitHub secret: {'yes' if s.github_secret else 'no'}",
            f"timestamp tolerance: +-{s.tolerance} s; work delay: {s.work_delay} s",
            f"inbox: {s.data_dir} (group commit: up to {s.group_commit} writes per fsync)",
            f"state: GET http://{host}:{port}/received; outage switch: POST /control",
        ]
    return lines


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("receiver", verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    with contextlib.ExitStack() as cleanup:
        settings = ReceiverSettings(
            data_dir=data_directory(args.data_dir, cleanup, "learn-webhook-"), secrets=args.secret,
            github_secret=args.github_secret, tolerance=args.tolerance, work_delay=args.work_delay,
            fail_first=args.fail_first, fail_status=args.fail_status, verify=not args.no_verify,
            dedup=not args.no_dedup, trace=trace, group_commit=args.group_commit,
            trace_events=not args.quiet)
        app = create_receiver_app(settings)
        served = direct(app, "POST", "/webhook") if args.route == "direct" else app
        await TracedServer(config(served, args.host, args.port), trace, describe(settings)).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
