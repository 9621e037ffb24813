"""The webhook provider process: command line, uvicorn, ready line, resume, clean SIGTERM.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> **provider** -> inbox ->
receiver_app -> receiver -> demo.

    python -m learn_webhook.provider --host 127.0.0.1 --port 8000 --data-dir DIR
        [--allow-target 127.0.0.0/8] [--max-attempts N] [--backoff-base S] [--backoff-cap S]
        [--timeout S] [--concurrency N] [--per-endpoint N] [--http-client lean|httpx]
        [--group-commit N] [--route direct|fastapi] [--seed N] [--rotation-grace S]
        [--loop auto] [-v | -q]

(``--help`` shows the defaults; each is defined once, in the module that uses it.)

It prints ``= provider listening on http://127.0.0.1:8000`` once it accepts
requests, then one line per thing that happens to a delivery::

    = provider stored evt_... type=invoice.paid -> 1 delivery(ies)
    > provider POST http://127.0.0.1:9000/webhook id=msg_... attempt 1/6
    < provider 503 in 2.4 ms id=msg_...
    = provider msg_... retry in 0.31 s
    > provider POST http://127.0.0.1:9000/webhook id=msg_... attempt 2/6
    < provider 202 in 3.1 ms id=msg_...
    = provider msg_... DELIVERED on attempt 2

``-v`` adds every header sent (the signatures included) under each ``>`` line.
``-q`` (``--quiet``) keeps the ready line and errors only (for benchmarks).

``--data-dir`` holds the outbox (SQLite).  On start the dispatcher resumes every
PENDING delivery found there, including those that were in flight when the last
process died: they go out again with the same ``webhook-id`` (at-least-once).
Without ``--data-dir`` the outbox lives in a temporary directory deleted at exit.

``--allow-target`` exempts a network from the SSRF guard (``ssrf_guard.py``); the
demo and the tests need ``127.0.0.0/8`` because their receivers run on loopback.
``--seed`` makes the retry jitter repeatable (tests, demos): the delays of a
single failing delivery are then ``RetryPolicy(...).schedule(random.Random(seed))``.

SIGTERM (or Ctrl+C): stop accepting requests, start no new attempts, give the
attempts in flight two seconds, leave the rest PENDING for the next start, exit 0.
A busy port exits 2 with a hint.
"""

from __future__ import annotations

import argparse
import contextlib
import random
from collections.abc import Callable
from pathlib import Path

from wirelab_common.asgi_server import TracedServer, config, data_directory, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .direct_route import DEFAULT_ROUTE, ROUTES, direct
from .dispatcher import DEFAULT_CONCURRENCY, DEFAULT_HTTP_CLIENT, DEFAULT_TIMEOUT, HTTP_CLIENTS
from .group_commit import DEFAULT_MAX_BATCH
from .provider_app import DEFAULT_ROTATION_GRACE, Settings, create_app
from .retry_schedule import DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP, DEFAULT_MAX_ATTEMPTS, RetryPolicy
from .ssrf_guard import parse_networks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_webhook.provider", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8000)  # --host --port --loop -v -q: the same in every server
    parser.add_argument("--data-dir", type=Path, help="where the outbox lives (default: a temp dir)")
    parser.add_argument("--allow-target", action="append", default=[], metavar="NETWORK",
                        help="let webhooks reach this network despite the SSRF guard (repeatable)")
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                        help="attempts before a delivery is DEAD (default %(default)s)")
    parser.add_argument("--backoff-base", type=float, default=DEFAULT_BACKOFF_BASE,
                        help="ceiling of the first retry delay, s (default %(default)s)")
    parser.add_argument("--backoff-cap", type=float, default=DEFAULT_BACKOFF_CAP,
                        help="the longest retry delay, s (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds one attempt may take (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="attempts in flight at once (default %(default)s)")
    parser.add_argument("--per-endpoint", type=int, metavar="N",
                        help="attempts in flight to one endpoint at most (default: --concurrency)")
    parser.add_argument("--http-client", choices=HTTP_CLIENTS, default=DEFAULT_HTTP_CLIENT,
                        help="lean: the small keep-alive client (lean_http.py); httpx: the readable one "
                             "(default %(default)s)")
    parser.add_argument("--group-commit", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
                        help="outbox writes per transaction (fsync) at most; 1: one each "
                             "(default %(default)s)")
    parser.add_argument("--route", choices=ROUTES, default=DEFAULT_ROUTE,
                        help="POST /events: direct to its handler (direct_route.py) or through FastAPI "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=int, help="seed the retry jitter (repeatable schedules)")
    parser.add_argument("--rotation-grace", type=float, default=DEFAULT_ROTATION_GRACE,
                        help="seconds an old secret keeps signing after a rotation (default %(default)s)")
    args = parser.parse_args(argv)
    if args.max_attempts < 1 or args.concurrency < 1 or args.group_commit < 1 or (
            args.per_endpoint is not None and args.per_endpoint < 1):
        parser.error("--max-attempts, --concurrency, --per-endpoint and --group-commit must be >= 1")
    if args.backoff_base < 0 or args.backoff_cap < 0 or args.timeout <= 0 or args.rotation_grace < 0:
        parser.error("--backoff-base, --backoff-cap and --rotation-grace must be >= 0, --timeout > 0")
    try:
        args.allowed = parse_networks(args.allow_target)
    except ValueError as exc:
        parser.error(f"--allow-target: {exc}")
    return args


def describe(settings: Settings) -> Callable[[str, int], list[str]]:
    """The detail lines under the ready line."""
    def lines(host: str, port: int) -> list[str]:
        s = settings
        return [
            f"outbox: {s.data_dir}",
            f"retries: {s.policy.max_attempts} attempts, full jitter, base {s.policy.base} s, "
            f"cap {s.policy.cap} s; timeout {s.timeout} s; concurrency {s.concurrency} "
            f"({s.per_endpoint or s.concurrency} per endpoint)",
            f"HTTP client: {s.http_client}; group commit: up to {s.group_commit} writes per fsync",
            "SSRF guard exempts: " + (", ".join(map(str, s.allowed)) or "nothing"),
        ]
    return lines


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("provider", verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    with contextlib.ExitStack() as cleanup:
        settings = Settings(
            data_dir=data_directory(args.data_dir, cleanup, "learn-webhook-"), allowed=args.allowed,
            policy=RetryPolicy(args.max_attempts, args.backoff_base, args.backoff_cap),
            timeout=args.timeout, concurrency=args.concurrency, per_endpoint=args.per_endpoint,
            http_client=args.http_client, group_commit=args.group_commit, rng=random.Random(args.seed),
            rotation_grace=args.rotation_grace, trace=trace, trace_events=not args.quiet)
        app = create_app(settings)
        served = direct(app, "POST", "/events") if args.route == "direct" else app
        # The listeners close first; then the lifespan stops the dispatcher.
        await TracedServer(config(served, args.host, args.port), trace, describe(settings)).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
