"""The fan-out server process: command line, Redis check, uvicorn, and a shutdown that ends every feed.

Reading order: signature -> envelope -> fanout -> stream -> app -> **server** -> upstream ->
clients -> demo.

    python -m learn_choose.hybrid.server --redis-url redis://127.0.0.1:PORT/0 --server-id s1 \\
        [--port 8300] [--secret TEXT ...] [--tolerance 300] [--maxlen 10000] [--window 1000] \\
        [--retry-ms 1000] [--heartbeat 15] [--no-dedup] [--loop auto] [-v | -q]

It prints ``= s1       listening on http://127.0.0.1:8300`` once it accepts
connections, after Redis answered and the stream reader started.  Run two with
the same ``--redis-url``: they share one stream and nothing else.

On SIGTERM it stops accepting, ends every SSE stream (the browsers reconnect,
with ``Last-Event-ID``, to whichever server answers) and closes every WebSocket
with 1001, then exits 0.  Killed outright (SIGKILL, a crash) it loses nothing
that it acknowledged: a webhook got its 200 and a WebSocket message its ack only
once the event was in Redis.  What a restart does lose: the open connections,
and any WebSocket message sent but not yet acknowledged (the client sends it
again with the same id; the duplicate check makes that safe).
"""

from __future__ import annotations

import argparse

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from . import signature
from .app import Settings, create_app
from .stream import EventStream


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.hybrid.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8300)
    parser.add_argument("--redis-url", required=True, help="the Redis both fan-out servers share")
    parser.add_argument("--server-id", default="s1", help="this server's name in traces and /healthz")
    parser.add_argument("--secret", action="append", default=[],
                        help="a webhook secret accepted (repeat while rotating; "
                        f"default {signature.DEMO_SECRET!r})")
    parser.add_argument("--tolerance", type=int, default=signature.TOLERANCE,
                        help="seconds a webhook timestamp may differ from our clock")
    parser.add_argument("--maxlen", type=int, default=10_000, help="entries the Redis stream keeps")
    parser.add_argument("--window", type=int, default=1000, help="recent events held in this process")
    parser.add_argument("--retry-ms", type=int, default=1000, help="the SSE retry: hint")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds between SSE comments")
    parser.add_argument("--no-dedup", action="store_true",
                        help="append every delivery, even a repeated id (only to show what dedup prevents)")
    args = parser.parse_args(argv)
    if args.maxlen < 1 or args.window < 1 or args.tolerance < 0 or args.retry_ms < 0 or args.heartbeat <= 0:
        parser.error("--maxlen and --window must be >= 1, --tolerance and --retry-ms >= 0, --heartbeat > 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    trace = Trace(args.server_id, verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    await check_redis(args.redis_url)
    stream = EventStream(args.redis_url, trace, maxlen=args.maxlen, dedup=not args.no_dedup,
                         loud=not args.quiet)
    settings = Settings(args.server_id, args.secret or [signature.DEMO_SECRET], args.tolerance, args.window,
                        args.retry_ms, args.heartbeat)
    app = create_app(settings, stream, trace, loud=not args.quiet)

    def describe(host: str, port: int) -> list[str]:
        return [f"webhook: POST http://{host}:{port}/webhook (tolerance {args.tolerance} s, "
                f"dedup {'off' if args.no_dedup else 'on'})",
                f"SSE: GET http://{host}:{port}/events   WebSocket: ws://{host}:{port}/ws?client=NAME",
                f"redis: {args.redis_url} stream {stream.key} MAXLEN {args.maxlen}, window {args.window}"]

    server = TracedServer(config(app, args.host, args.port, ws="websockets-sansio"), trace, describe,
                          before_shutdown=app.state.begin_shutdown)
    await server.serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
