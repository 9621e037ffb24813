"""The SSE server process: command line, uvicorn, and a shutdown that ends every stream.

Reading order: event_stream -> event_log -> feed -> completions -> app -> **server**;
then client; then the page; then proxy.

    python -m learn_sse.server --host 127.0.0.1 --port 8000 [--data-dir DIR] [--tick 1.0]
        [--replay 1000] [--retry-ms 1000] [--heartbeat 15] [--token-delay 0.02]
        [--no-accel-header] [--loop auto] [-v | --quiet]

It prints ``= sse      listening on http://127.0.0.1:8000`` once it accepts connections.

``--data-dir`` holds the event log (SQLite).  Without it the log lives in a temporary
directory deleted at exit; give one to keep ids and the replay window across
restarts, so that clients resume where they were.

On SIGTERM (or Ctrl+C) the server stops accepting, stops the feed, and closes the
event log, which ends every ``/events`` stream cleanly (the last chunk of a chunked
response).  That is a signal to the clients, not a failure: an ``EventSource``
reconnects after its ``retry`` delay (WHATWG HTML §9.2.3 "Processing model") and
resumes from its ``Last-Event-ID`` on whichever server answers.  The process exits
0.  (sse-starlette has a shutdown watcher of its own, which hooks uvicorn's signal
handler; with our handlers it stays idle, and closing the log ends every stream at
once, with a trace line that says why.)

``--quiet`` keeps only the ready line, the stop lines and errors (for benchmarks):
no line per event, subscriber or request, and no formatting work for them either.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from wirelab_common.errors import SetupError, run_main
from wirelab_common.ports import ensure_port_free
from wirelab_common.wiretrace import Trace

from .app import Settings, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_sse.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path,
                        help="where the event log lives (default: a temp dir deleted at exit)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between feed events; 0 = off")
    parser.add_argument("--replay", type=int, default=1000, help="events kept for Last-Event-ID resumes")
    parser.add_argument("--retry-ms", type=int, default=1000, help="the retry: hint sent to clients")
    parser.add_argument("--heartbeat", type=float, default=15.0,
                        help="seconds between ': heartbeat' comments; 0 = none")
    parser.add_argument("--token-delay", type=float, default=0.02,
                        help="seconds between streamed completion tokens")
    parser.add_argument("--no-accel-header", action="store_true",
                        help="omit X-Accel-Buffering: no (only to show nginx buffering an SSE stream)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="event loop; auto is uvloop when installed, as in uvicorn")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="trace detail lines")
    noise.add_argument("-q", "--quiet", action="store_true",
                       help="only the ready line, stop lines and errors (for benchmarks)")
    args = parser.parse_args(argv)
    for name in ("tick", "heartbeat", "token_delay"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.replay < 0 or args.retry_ms < 0:
        parser.error("--replay and --retry-ms must be >= 0")
    return args


class UvicornLogBridge(logging.Handler):
    """Prints uvicorn's warnings and errors (tracebacks included) on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("! %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


class SseServer(uvicorn.Server):
    """uvicorn's server with our ready line, our signal handling and a stream-ending shutdown."""

    def __init__(self, config: uvicorn.Config, settings: Settings, begin_shutdown: Callable[[], None],
                 trace: Trace) -> None:
        super().__init__(config)
        self.settings = settings
        self.begin_shutdown = begin_shutdown
        self.trace = trace

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Our own handlers: uvicorn's would re-raise the signal after a clean shutdown,
        # and the exit status would read "killed by SIGTERM" instead of 0.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: stop waiting for anyone
        self.should_exit = True  # first: even if the trace below fails (stdout closed), we stop
        self.trace.state(f"{signal.Signals(sig).name} received: shutting down")

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        s = self.settings
        host = self.config.host
        port = self.servers[0].sockets[0].getsockname()[1]
        self.trace.state(f"listening on http://{host}:{port}", [
            f"events: GET http://{host}:{port}/events (Last-Event-ID or ?lastEventId= to resume)",
            f"event log: {s.data_dir} (replay window {s.replay} events)",
            f"feed tick: {s.tick} s" if s.tick else "feed: off",
            f"retry hint {s.retry_ms} ms, heartbeat " + (f"every {s.heartbeat} s" if s.heartbeat else "off"),
            "X-Accel-Buffering: no" if s.accel_header else "X-Accel-Buffering: omitted (nginx will buffer)",
            f"completions: POST http://{host}:{port}/v1/chat/completions (token delay {s.token_delay} s)",
        ])

    async def shutdown(self, sockets: list | None = None) -> None:
        for server in self.servers:
            server.close()  # no new streams can start after this
        self.begin_shutdown()  # every /events stream ends now; clients will reconnect
        await super().shutdown(sockets)
        self.trace.state("stopped")


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("sse", verbose=args.verbose)
    ensure_port_free(args.host, args.port)
    with contextlib.ExitStack() as cleanup:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="learn-sse-")))
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"cannot use --data-dir {data_dir}: {exc.strerror}",
                             "pass a directory you can write to") from None
        settings = Settings(data_dir=data_dir, tick=args.tick, replay=args.replay, retry_ms=args.retry_ms,
                            heartbeat=args.heartbeat, token_delay=args.token_delay,
                            accel_header=not args.no_accel_header, trace=trace,
                            trace_events=not args.quiet)
        app = create_app(settings)
        config = uvicorn.Config(app, host=args.host, port=args.port, lifespan="on", access_log=False,
                                log_config=None, timeout_graceful_shutdown=3)
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.handlers = [UvicornLogBridge()]
        uvicorn_log.setLevel(logging.WARNING)
        uvicorn_log.propagate = False
        await SseServer(config, settings, app.state.begin_shutdown, trace).serve()


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop for ``--loop``; "auto" picks uvloop when installed, as uvicorn does."""
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise SetupError("uvloop is not installed",
                                 "pip install uvloop, or pass --loop asyncio") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def run() -> None:
        # asyncio.run() takes a loop_factory only from Python 3.12 on; asyncio.Runner does in 3.11.
        with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
            runner.run(serve(args))

    run_main(run)


if __name__ == "__main__":
    main()
