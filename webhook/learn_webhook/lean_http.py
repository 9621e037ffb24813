"""A lean HTTP/1.1 keep-alive client for the dispatcher's POSTs: the fast path beside httpx.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> **lean_http** -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

**Why it exists.**  The dispatcher does one thing with HTTP: POST a small body to a
URL it has just checked, read the status and a little of the answer.  httpx does that
well and is what the lesson reads (``--http-client httpx``); but profiling the
benchmark put about half of the provider's Python time in httpx and httpcore's
general machinery: connection-pool bookkeeping, a readability check of the pooled
socket before each request, anyio wrappers, events and state objects for HTTP/1.1.
This client is that one POST on asyncio streams, and nothing else (``--http-client
lean``, the default).  ``tests/webhook/test_lean_http.py`` runs both clients against
one raw socket and checks that the receiver gets byte-identical requests and that the
dispatcher records the same outcome from the same answers.

What it does, RFC 9112 by section:

- writes the request line, ``Host`` first (the caller's, for a pinned address; else
  the URL's), the caller's headers in order, ``Content-Length``, then the body: the
  same bytes httpx writes when its default headers are removed (dispatcher.py);
- reads the status line and header fields (at most 64 KiB: ``asyncio.StreamReader``'s
  limit), skipping 1xx interim answers (RFC 9110 §15.2);
- reads the body by ``Content-Length``, by ``Transfer-Encoding: chunked`` (§7.1), or
  until the server closes (§6.3), and never more than ``limit`` bytes of it;
- keeps the connection for the next POST to the same address (§9.3, persistence)
  unless the answer says ``Connection: close``, is HTTP/1.0, had no length, or was cut
  at ``limit``; at most ``max_idle`` idle connections per address;
- a reused connection the server had closed while idle (it fails before a single
  byte of the answer) is dropped and the request sent once more on a new one.  POST
  is not an idempotent method, and RFC 9112 §9.3.1 forbids retrying one automatically
  unless the client knows the request is idempotent all the same: a webhook delivery
  is (the receiver dedupes on ``webhook-id``).  httpcore avoids the case instead, by
  checking the pooled socket for readability before every request: the check the
  profile found costly.

Errors carry httpx's class names (``ConnectError``, ``RemoteProtocolError``,
``ReadError``), so the delivery log reads the same with either client.  TLS is
``ssl.create_default_context()`` with the server name given (the pinned address case).
Timeouts are the caller's (``asyncio.timeout`` around the whole attempt).  Not
supported, on purpose: proxies, redirects (the dispatcher follows none), HTTP/2,
compression (nothing asks for it: no ``Accept-Encoding`` is sent).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_MAX_IDLE = 16  # idle keep-alive connections kept per address


class HTTPError(Exception):
    """Base of this client's errors (like ``httpx.HTTPError``)."""


class ConnectError(HTTPError):
    """The TCP (or TLS) connection could not be made."""


class RemoteProtocolError(HTTPError):
    """The server broke HTTP/1.1: a bad status line, a bad chunk, or it hung up mid-answer."""


class ReadError(HTTPError):
    """The connection failed while we read the answer (reset)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated field keeps its last value
    body: bytes  # at most the caller's limit


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def close(self) -> None:
        self.writer.close()

    @property
    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()


@dataclass
class LeanClient:
    """One pool of keep-alive connections per (scheme, address, port, server name)."""

    max_idle: int = DEFAULT_MAX_IDLE
    _idle: dict[tuple[str, str, int, str | None], list[Connection]] = field(default_factory=dict)
    _tls: ssl.SSLContext | None = None

    async def post(self, url: str, headers: dict[str, str], body: bytes, *, limit: int,
                   server_name: str | None = None) -> Answer:
        """POST ``body`` to ``url`` (whose host may be the pinned address) and read the answer."""
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = request_head(target, parts.netloc, headers, len(body))
        key = (scheme, host, port, server_name)
        for _ in range(2):  # the second time only after a stale keep-alive connection
            conn = await self._connection(key)
            try:
                conn.writer.write(head + body)
                await conn.writer.drain()
                answer, keep = await read_answer(conn.reader, limit)
            except (ConnectionError, asyncio.IncompleteReadError, RemoteProtocolError) as exc:
                conn.close()
                if conn.reused and nothing_came_back(exc):
                    continue  # the server closed it while it sat in our pool: try a new one
                if isinstance(exc, ConnectionError):
                    raise ReadError(str(exc) or type(exc).__name__) from None
                if isinstance(exc, asyncio.IncompleteReadError):
                    raise RemoteProtocolError("server disconnected before the whole answer") from None
                raise
            except BaseException:  # cancelled (timeout) mid-request: the connection's state is unknown
                conn.close()
                raise
            if keep:
                self._keep(key, conn)
            else:
                conn.close()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(self, key: tuple[str, str, int, str | None]) -> Connection:
        idle = self._idle.get(key, [])
        while idle:
            conn = idle.pop()
            if conn.alive:
                conn.reused = True
                return conn
            conn.close()
        scheme, host, port, server_name = key
        tls = None
        if scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=(server_name or host) if tls else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from None
        return Connection(reader, writer)

    def _keep(self, key: tuple[str, str, int, str | None], conn: Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle:
            conn.reused = False
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def nothing_came_back(exc: BaseException) -> bool:
    """The server hung up before the first byte of an answer (a stale idle connection)."""
    if isinstance(exc, asyncio.IncompleteReadError):
        return not exc.partial
    return isinstance(exc, ConnectionError)


def request_head(target: str, netloc: str, headers: dict[str, str], length: int) -> bytes:
    """Request line and fields, ``Host`` first (the caller's ``host`` if given), then ``Content-Length``."""
    host = next((value for name, value in headers.items() if name.lower() == "host"), netloc)
    lines = [f"POST {target} HTTP/1.1", f"{'host' if 'host' in headers else 'Host'}: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_answer(reader: asyncio.StreamReader, limit: int) -> tuple[Answer, bool]:
    """The answer (body cut at ``limit``) and whether the connection may carry another request."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise RemoteProtocolError("answer header larger than 64 KiB") from None
        version, status, headers = parse_head(head)
        if not 100 <= status <= 199:
            break  # 1xx: an interim answer (100 Continue, 103 Early Hints); the real one follows
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if status in (204, 304):
        return Answer(status, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, complete = await read_chunked(reader, limit)
        return Answer(status, headers, body), keep and complete
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise RemoteProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
        body = await reader.readexactly(min(length, limit))
        return Answer(status, headers, body), keep and length <= limit
    body = await read_until_close(reader, limit)  # no length: the body ends when the server closes
    return Answer(status, headers, body), False


def parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    status_line, *fields = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise RemoteProtocolError(f"bad status line {status_line[:80]!r}")
    headers = {}
    for line in fields:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise RemoteProtocolError(f"bad header field {line[:80]!r}")
        headers[name.lower()] = value.strip()
    return version, int(code), headers


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Chunks up to ``limit`` bytes; True if the last chunk and the trailers were read too."""
    parts, size = [], 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            length = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise RemoteProtocolError(f"bad chunk size {line[:40]!r}") from None
        if length == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailer fields: ignored
            return b"".join(parts), True
        if size + length > limit:
            parts.append(await reader.readexactly(limit - size))
            return b"".join(parts), False  # the rest is unread: this connection cannot be reused
        parts.append(await reader.readexactly(length))
        size += length
        if await reader.readexactly(2) != b"\r\n":
            raise RemoteProtocolError("chunk not followed by CRLF")


async def read_until_close(reader: asyncio.StreamReader, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit:
        chunk = await reader.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)
