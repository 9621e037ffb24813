"""HTTP fast path beside the lesson: each response leaves in one socket write, not two.

Reading order: an aside to http_transport / server (the lesson does not need it).

uvicorn writes a response's status line and headers as soon as the application
sends ``http.response.start``, and the body in a second write when it sends
``http.response.body``.  Over loopback each write is a system call that wakes the
peer, so a small JSON answer costs two wake-ups where one would do.
``CoalescingTransport`` holds what is written during one turn of the event loop
and hands it to the socket in a single write at the end of that turn (the loop's
next ready callback); ``close()`` sends what is held first.  Nothing else changes:
the same Starlette app (http_transport.py) produces the same bytes, in the same
order, on the same connection.  An SSE stream's events still leave as they are
produced: each turn's events in one write.

The server uses it by default over HTTP (``--http-writes coalesce``);
``--http-writes plain`` keeps uvicorn's own protocol.  tests/mcp/test_http_fast.py
checks that both send the same responses.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport wrapper: writes made in one loop turn go out as one ``write``."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]
