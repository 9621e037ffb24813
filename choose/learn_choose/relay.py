"""A TCP relay that counts every byte in both directions: the lab's meter "at the socket".

It sits between a client and a server (or, for the webhook, between the server
and the subscriber's receiver), so what it counts is what crossed the wire: the
request and status lines, headers, chunk sizes, SSE field names, WebSocket frame
headers and masks, the TCP payload of every connection (not the TCP/IP headers).
"""

from __future__ import annotations

import asyncio
import contextlib


class CountingRelay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.up = 0  # client -> server bytes
        self.down = 0  # server -> client bytes
        self.connections = 0
        self.server: asyncio.Server | None = None

    @property
    def total(self) -> int:
        return self.up + self.down

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pump(client_reader, server_writer, "up"),
                             self._pump(server_reader, client_writer, "down"))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        try:
            while data := await reader.read(65536):
                setattr(self, direction, getattr(self, direction) + len(data))
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
