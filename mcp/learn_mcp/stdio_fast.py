"""The benchmark's fast path beside stdio_transport's reader: lines split in the pipe's callback.

Reading order: ... -> stdio_transport -> **stdio_fast** (the lesson does not need it) -> server.

``StdioConnection.serve`` (the lesson) awaits ``StreamReader.readuntil``: the
pipe's callback fills the reader's buffer and wakes the serving task, which
takes the line on the next turn of the event loop, and the request's task runs
on the turn after that.  :class:`LineReader` is an ``asyncio.Protocol`` that
splits the bytes into lines in ``data_received`` itself and hands each line to
the same :meth:`StdioConnection.receive`, so a request is parsed, checked
against the lifecycle and started one turn earlier, with no serving task to wake.
Everything after the line (parse, prepare, the request's task, the answer)
is the lesson's code.

Same behaviour as the lesson's reader, held to it by ``tests/mcp/test_mcp_stdio_fast.py``:
blank lines are skipped, a last line without a newline is still read, a line
longer than the connection's ``limit`` (``MAX_LINE``) is answered with -32600 and
ends the input, and end of input gives running requests ``EOF_GRACE`` seconds
(``StdioConnection.finish``).
``python -m learn_mcp.server --stdio-reader stream`` uses the lesson's reader.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from wirelab_common.wiretrace import Trace

from .jsonrpc import JsonRpcError
from .server_core import ServerCore
from .stdio_transport import StdioConnection, until_stopped


class LineReader(asyncio.Protocol):
    """Bytes from the pipe -> whole lines -> ``connection.receive``, inside the pipe's callback."""

    def __init__(self, connection: StdioConnection) -> None:
        self.connection, self.limit = connection, connection.limit
        self.buffer = bytearray()
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.ended.done():
            return
        buffer = self.buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if end - start > self.limit:
                return self.overrun()
            line = bytes(buffer[start:end + 1])
            start = end + 1
            if line.strip():
                self.connection.receive(line)
        del buffer[:start]
        if len(buffer) > self.limit:
            self.overrun()

    def overrun(self) -> None:
        self.connection.write(JsonRpcError(-32600, f"message longer than {self.limit} bytes").to_response())
        self.end()  # the stream cannot be re-synchronised reliably

    def eof_received(self) -> bool:
        if not self.ended.done() and self.buffer.strip():
            self.connection.receive(bytes(self.buffer))  # last line without a newline
        self.end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.end()

    def end(self) -> None:
        self.buffer.clear()
        if not self.ended.done():
            self.ended.set_result(None)


async def serve_lines(connection: StdioConnection, pipe: Any) -> None:
    """Read ``pipe`` (a file object) with :class:`LineReader` until end of input, then finish."""
    loop = asyncio.get_running_loop()
    transport, reader = await loop.connect_read_pipe(lambda: LineReader(connection), pipe)
    try:
        await reader.ended
    finally:
        transport.close()
        await connection.finish()


async def serve_stdio_fast(core: ServerCore, trace: Trace, wire: Trace | None = None) -> None:
    connection = StdioConnection(core, None, sys.stdout.buffer, trace, wire)
    await until_stopped(serve_lines(connection, sys.stdin), trace)
