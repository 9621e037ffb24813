"""Run an ASGI app on uvicorn the wirelab way: ready line, clean SIGTERM, chosen event loop.

Every pattern's server process (chat, sse, webhook provider and receiver) needs
the same four things from uvicorn, so they live here once:

- **a ready line** through the trace, printed only once the socket accepts
  (``= NAME     listening on http://HOST:PORT``), with detail lines under ``-v``;
  tests and demos wait for it;
- **our own signal handlers**: uvicorn's re-raise SIGTERM after a clean shutdown,
  so the exit status would read "killed by SIGTERM" instead of 0;
- **a hook before shutdown** (close WebSockets with 1001, end SSE streams) that
  runs after the listeners close, so no new connection slips in after it;
- **the event loop** of ``--loop`` (``event_loop.py``, re-exported here).

uvicorn's own warnings and errors go to stderr as ``! uvicorn.error: ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from .errors import SetupError
from .event_loop import LOOPS, loop_factory, run_server  # noqa: F401  (re-exported for the servers)
from .wiretrace import Trace


class LogBridge(logging.Handler):
    """uvicorn's warnings and errors (tracebacks included), on stderr."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("! %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def config(app: Any, host: str, port: int, *, bridge: logging.Handler | None = None,
           **options: Any) -> uvicorn.Config:
    """A uvicorn.Config with our defaults; uvicorn's log goes through ``bridge``."""
    settings = dict(lifespan="on", access_log=False, log_config=None, timeout_graceful_shutdown=3)
    settings.update(options)
    handler = bridge or LogBridge()
    log = logging.getLogger("uvicorn.error")
    log.handlers = [handler]
    log.setLevel(handler.level or logging.WARNING)
    log.propagate = False
    return uvicorn.Config(app, host=host, port=port, **settings)


class TracedServer(uvicorn.Server):
    """uvicorn's server with our ready line, our signal handling and a shutdown hook.

    ``describe(host, port)`` returns the detail lines of the ready line (it may
    also record the port, e.g. to allow the server's own Origin);
    ``before_shutdown()`` runs once the listeners are closed.
    """

    def __init__(self, cfg: uvicorn.Config, trace: Trace,
                 describe: Callable[[str, int], list[str]] = lambda host, port: [],
                 before_shutdown: Callable[[], Awaitable[None] | None] | None = None) -> None:
        super().__init__(cfg)
        self.trace = trace
        self.describe = describe
        self.before_shutdown = before_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
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
        host = self.config.host
        port = self.servers[0].sockets[0].getsockname()[1]
        detail = self.describe(host, port)
        self.trace.state(f"listening on http://{host}:{port}", detail, always=True)  # server_cli's ready line

    async def shutdown(self, sockets: list | None = None) -> None:
        for server in self.servers:
            server.close()  # nothing new can start after the goodbyes below
        if self.before_shutdown is not None:
            result = self.before_shutdown()
            if result is not None:
                await result
        await super().shutdown(sockets)
        self.trace.state("stopped")


def data_directory(given: Path | None, cleanup: contextlib.ExitStack, prefix: str) -> Path:
    """``--data-dir`` if given (created if need be), else a temp dir removed by ``cleanup``."""
    if given is None:
        return Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    try:
        given.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupError(f"cannot use --data-dir {given}: {exc.strerror}",
                         "pass a directory you can write to") from None
    return given


async def read_body(request: Any, limit: int) -> bytes | None:
    """A Starlette request's raw body, or None once it exceeds ``limit`` bytes.

    Reading stops at the limit, so a client cannot make the server buffer an
    unbounded body before it answers 413.
    """
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return b"".join(parts)
