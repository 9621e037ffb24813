"""The domain's side of HTTP-01: a tiny web server on "port 80" that serves key authorizations.

After ``client.py`` in the reading order.  It answers exactly one kind of
request, ``GET /.well-known/acme-challenge/TOKEN`` (RFC 8555 §8.3), with the
key authorization the client put in :attr:`Responder.tokens`, and 404 for
anything else.  HTTP/1.1 by hand over asyncio streams: one request per
connection, ``Connection: close``.
"""

from __future__ import annotations

import asyncio

from wirelab_common.wiretrace import Trace

from .challenges import WELL_KNOWN


class Responder:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.tokens: dict[str, str] = {}
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = await asyncio.start_server(self.handle, host, port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            host = next(
                (h.split(":", 1)[1].strip() for h in header_lines if h.lower().startswith("host:")), "?"
            )
            self.trace.received(f"{method} {target} (Host: {host})")
            token = target.removeprefix(WELL_KNOWN) if target.startswith(WELL_KNOWN) else None
            body = self.tokens.get(token) if method == "GET" and token else None
            status = "200 OK" if body is not None else "404 Not Found"
            payload = (body or "not found").encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(payload)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + payload
            )
            self.trace.sent(f"{status}" + (f" {body[:24]}..." if body else ""))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        finally:
            writer.close()
