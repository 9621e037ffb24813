"""The web process: command line, a Redis check, uvicorn, ready line, clean SIGTERM.

Reading order: job -> client -> jobs -> worker -> ... -> web_app -> **web**.

    python -m learn_queue.web --host 127.0.0.1 --port 8080 --redis-url redis://127.0.0.1:6379/0 \\
        [--namespace lq] [--loop auto] [-v | -q]

The options of every wirelab server (``wirelab_common.server_cli``; ``--port 0``
takes any free port), plus ``--redis-url`` (else ``$REDIS_URL``) and
``--namespace``.  It prints ``= web      listening on http://127.0.0.1:8080`` once
it accepts connections (with ``--port 0``, the port it got), then one trace line
per change it makes::

    < web      POST /jobs class=checksum queue=default
    > web      201 jid=5f0c... queued
    = web      dead job 5f0c... back on queue default

``-q`` keeps the ready line and errors only.

Before it listens, the process asks Redis for a PING: an API that answers 503
to everything is worse than one that does not start, so an unreachable Redis
exits 2 with a hint, as does a busy port.  SIGTERM or Ctrl+C lets in-flight
requests finish and exits 0; nothing is lost, because the web process holds no
jobs: every job it accepts is in Redis before the 201 goes out.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.errors import SetupError
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .client import DEFAULT_NAMESPACE, namespace
from .web_app import WebSettings, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_queue.web", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8080)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="redis://HOST:PORT/DB (default: $REDIS_URL)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, type=namespace,
                        help="first part of every Redis key, as the workers' --namespace (default: lq)")
    return parser.parse_args(argv)


def describe(settings: WebSettings) -> Callable[[str, int], list[str]]:
    """The detail lines under the ready line (shown with -v)."""
    def lines(host: str, port: int) -> list[str]:
        base = f"http://{host}:{port}"
        return [f"redis: {settings.redis_url}, keys {settings.namespace}:*",
                f"enqueue: POST {base}/jobs; status: GET {base}/jobs/<jid>",
                f"overview: GET {base}/queues, /scheduled, /retries, /dead"]
    return lines


async def serve(args: argparse.Namespace) -> None:
    if not args.redis_url:
        raise SetupError("no Redis URL", "pass --redis-url redis://127.0.0.1:6379/0 or set REDIS_URL")
    trace = Trace("web", verbose=args.verbose, quiet=args.quiet)
    if args.port:  # 0: the kernel picks a free one, nothing to check
        ensure_port_free(args.host, args.port)
    await check_redis(args.redis_url)
    settings = WebSettings(redis_url=args.redis_url, trace=trace, trace_events=not args.quiet,
                           namespace=args.namespace)
    app = create_app(settings)
    await TracedServer(config(app, args.host, args.port), trace, describe(settings)).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
