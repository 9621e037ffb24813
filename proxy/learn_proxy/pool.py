"""Upstream connection pooling: keep the TCP connections to each backend open and reuse them.

Reading order: http11 -> routing -> forwarding -> rewrite -> seo -> **pool** -> exchange -> server.

Opening a TCP connection costs a round trip (and a TLS handshake in
production) per request; a proxy that opens one per request also leaves
thousands of sockets in TIME_WAIT.  So after a response was read to its end,
and both sides left the connection open (RFC 9112 §9.3), the connection goes
back into an idle list per upstream, and the next request to that upstream
takes it.

An idle connection can be closed by the upstream at any moment (uvicorn
closes after 5 idle seconds).  ``acquire()`` skips connections whose reader
already saw EOF; the race that is left (the close arrives while our request
is on its way) is handled in ``server.py``: a request that got no byte of
answer on a *reused* connection, and had no body, is sent once more on a new one.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from .routing import Upstream

_ids = itertools.count(1)


@dataclass(eq=False)
class Connection:
    upstream: Upstream
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    id: int = field(default_factory=lambda: next(_ids))
    uses: int = 0

    def close(self) -> None:
        self.writer.close()


class ConnectError(OSError):
    """The upstream could not be reached (refused, unreachable, or the connect timed out): 502."""


class Pool:
    """Idle connections per upstream; ``enabled=False`` opens a new one every time."""

    def __init__(self, *, connect_timeout: float = 3.0, max_idle: int = 32, enabled: bool = True) -> None:
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.enabled = enabled
        self.idle: dict[Upstream, list[Connection]] = {}
        self.opened = 0  # counters for the trace and the tests
        self.reused = 0

    async def acquire(self, upstream: Upstream) -> Connection:
        idle = self.idle.get(upstream, [])
        while idle:
            conn = idle.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()  # the upstream closed it while it was idle
                continue
            conn.uses += 1
            self.reused += 1
            return conn
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(upstream.host, upstream.port), self.connect_timeout
            )
        except TimeoutError:
            raise ConnectError(f"connect to {upstream.name} ({upstream.authority}) timed out") from None
        except OSError as exc:
            raise ConnectError(
                f"connect to {upstream.name} ({upstream.authority}): {exc.strerror or exc}"
            ) from None
        self.opened += 1
        return Connection(upstream, reader, writer, uses=1)

    def release(self, conn: Connection, reusable: bool) -> None:
        """Back to the idle list if the last exchange left it open, else closed."""
        idle = self.idle.setdefault(conn.upstream, [])
        if reusable and self.enabled and len(idle) < self.max_idle and not conn.writer.is_closing():
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self.idle.values():
            for conn in idle:
                conn.close()
        self.idle.clear()
