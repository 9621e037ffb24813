"""The SSE server process: command line, uvicorn, and a shutdown that ends every stream.

Reading order: event_stream -> event_log -> feed -> completions -> app -> **server**;
then client; then the page; then proxy.

    python -m learn_sse.server --host 127.0.0.1 --port 8000 [--data-dir DIR] [--tick 1.0]
        [--replay 1000] [--retry-ms 1000] [--heartbeat 15] [--token-delay 0.02]
        [--no-accel-header] [--plain-response] [--loop auto] [-v | -q]

It prints ``= sse      listening on http://127.0.0.1:8000`` once it accepts connections.

``--data-dir`` holds the event log (SQLite).  Without it the log lives in a temporary
directory deleted at exit; give one to keep ids and the replay window across
restarts, so that clients resume where they were.

On SIGTERM (or Ctrl+C) the server stops accepting, stops the feed, and closes the
event log, which ends every ``/events`` stream cleanly (the last chunk of a chunked
response).  That is a signal to the clients, not a failure: an ``EventSource``
reconnects after its ``retry`` delay (WHATWG HTML §9.2.3 "Processing model") and
resumes from its ``Last-Event-ID`` on whichever server answers.  The process exits
0.  (sse-starlette's own response class has a shutdown watcher, which hooks uvicorn's
signal handler; with our handlers it stays idle, and ``fast_response.py``'s class, the
default, does not start it.  Closing the log ends every stream at once, with a trace
line that says why.)

``--quiet`` keeps only the ready line and errors (for benchmarks): no line per
event, subscriber or request, and no formatting work for them either.  ``--port 0``
lets the kernel pick a free port, named in the ready line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from wirelab_common.asgi_server import TracedServer, config, data_directory, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .app import Settings, create_app
from .fast_log import SWITCH_INTERVAL
from .fast_response import with_raw_send


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_sse.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8000)  # --host --port --loop -v -q: the same in every server
    parser.add_argument("--data-dir", type=Path,
                        help="where the event log lives (default: a temp dir deleted at exit)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between feed events; 0 = off")
    parser.add_argument("--replay", type=int, default=1000, help="events kept for Last-Event-ID resumes")
    parser.add_argument("--retry-ms", type=int, default=1000, help="the retry: hint sent to clients")
    parser.add_argument("--heartbeat", type=float, default=15.0,
                        help="seconds between ': heartbeat' comments; 0 = none")
    parser.add_argument("--token-delay", type=float, default=0.02,
                        help="seconds between streamed completion tokens")
    parser.add_argument("--plain-response", action="store_true",
                        help="sse-starlette's own EventSourceResponse and the lesson's event log bell, "
                             "not fast_response.py's and fast_log.py's (slower)")
    parser.add_argument("--no-accel-header", action="store_true",
                        help="omit X-Accel-Buffering: no (only to show nginx buffering an SSE stream)")
    args = parser.parse_args(argv)
    for name in ("tick", "heartbeat", "token_delay"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.replay < 0 or args.retry_ms < 0:
        parser.error("--replay and --retry-ms must be >= 0")
    return args


def describe(settings: Settings) -> Callable[[str, int], list[str]]:
    """The detail lines under the ready line."""
    def lines(host: str, port: int) -> list[str]:
        s = settings
        return [
            f"events: GET http://{host}:{port}/events (Last-Event-ID or ?lastEventId= to resume)",
            f"event log: {s.data_dir} (replay window {s.replay} events)",
            f"feed tick: {s.tick} s" if s.tick else "feed: off",
            f"retry hint {s.retry_ms} ms, heartbeat " + (f"every {s.heartbeat} s" if s.heartbeat else "off"),
            "X-Accel-Buffering: no" if s.accel_header else "X-Accel-Buffering: omitted (nginx will buffer)",
            f"completions: POST http://{host}:{port}/v1/chat/completions (token delay {s.token_delay} s)",
        ]
    return lines


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("sse", verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    with contextlib.ExitStack() as cleanup:
        settings = Settings(data_dir=data_directory(args.data_dir, cleanup, "learn-sse-"), tick=args.tick,
                            replay=args.replay, retry_ms=args.retry_ms, heartbeat=args.heartbeat,
                            token_delay=args.token_delay, accel_header=not args.no_accel_header,
                            lean_response=not args.plain_response,
                            trace=trace, trace_events=not args.quiet)
        app = create_app(settings)
        if settings.lean_response:  # the fast path (fast_response.py, fast_log.py)
            sys.setswitchinterval(SWITCH_INTERVAL)
        asgi = with_raw_send(app) if settings.lean_response else app
        # Before uvicorn waits for open responses: end every /events stream (clients reconnect).
        server = TracedServer(config(asgi, args.host, args.port), trace, describe(settings),
                              before_shutdown=app.state.begin_shutdown)
        await server.serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
