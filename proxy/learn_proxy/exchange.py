"""One request through the proxy: to the upstream and back, bodies streamed both ways.

Reading order: http11 -> routing -> forwarding -> rewrite -> seo -> pool -> **exchange** -> server.

:func:`forward` takes a parsed :class:`~learn_proxy.http11.Request` (its body
still on the client's socket), and:

1. takes a connection to the route's upstream from the pool (none: **502**);
2. writes the request head with the hop's headers (``forwarding.py``) and
   then the body, piece by piece as the client sends it, framed again
   (``Content-Length`` kept, or chunked);
3. waits for the response head at most ``read_timeout`` seconds (**504**);
4. writes the response head, rewritten for the prefix on an ``seo`` route
   (``rewrite.py``), and the body piece by piece, through the HTML rewriter
   when it is HTML (then chunked, since its length changes);
5. gives the upstream connection back to the pool if both ends keep it open.

An upstream that breaks HTTP/1.1 is a 502 (never its parser's 400, which would
blame the client).  One that fails *after* the response head went out cannot get
an error page any more: the client connection is cut before the last chunk, so
the client knows the body is incomplete.

A ``101 Switching Protocols`` answer to a WebSocket handshake ends HTTP on
both connections: the bytes are then copied both ways until one side closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wirelab_common.wiretrace import Trace

from . import http11
from .forwarding import client_response_headers, is_upgrade, upstream_request_headers
from .http11 import Data, EndOfMessage, ProtocolError, Request, Response
from .pool import ConnectError, Connection, Pool
from .rewrite import HtmlRewriter, rewrite_location, rewrite_set_cookie
from .routing import Route

VIA = ("Via", "1.1 learn_proxy")  # RFC 9110 §7.6.3: a proxy says it was there


class UpstreamTimeout(Exception):
    """The upstream accepted the request but did not answer in time: 504."""


class ResponseAborted(Exception):
    """The upstream failed after the response head was sent: the client connection is cut."""


class UpstreamFailed(Exception):
    """The upstream could not be reached or broke the protocol: 502."""


@dataclass
class Hop:
    """What the exchange needs to know about the client side."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    parser: http11.Reader
    client_ip: str
    public_origin: str  # "http://host:port" as the client addressed us
    read_timeout: float
    rewrite: bool = True
    forwarded: bool = True


async def client_body(hop: Hop) -> AsyncIterator[bytes]:
    """The request body's pieces as the client sends them (the parser never holds it all)."""
    while True:
        event = hop.parser.next_event()
        if event is http11.NEED_DATA:
            data = await asyncio.wait_for(hop.reader.read(65536), hop.read_timeout)
            hop.parser.receive_data(data)
            continue
        if isinstance(event, Data):
            yield event.data
        elif isinstance(event, EndOfMessage):
            return


async def read_event(conn: Connection, parser: http11.Reader, timeout: float) -> http11.Event:
    """The next event from the upstream; UpstreamTimeout if it stays silent ``timeout`` seconds."""
    while True:
        event = parser.next_event()
        if event is not http11.NEED_DATA:
            return event  # type: ignore[return-value]
        if parser.eof:
            raise UpstreamFailed(f"{conn.upstream.name} closed the connection without an answer")
        try:
            data = await asyncio.wait_for(conn.reader.read(65536), timeout)
        except TimeoutError:
            raise UpstreamTimeout(f"{conn.upstream.name} sent nothing for {timeout:g} s") from None
        except OSError as exc:
            raise UpstreamFailed(f"{conn.upstream.name}: {exc}") from None
        parser.receive_data(data)


async def read_upstream(conn: Connection, parser: http11.Reader, timeout: float) -> http11.Event:
    """:func:`read_event`, with the upstream's protocol errors as UpstreamFailed (502, never its 400)."""
    try:
        return await read_event(conn, parser, timeout)
    except ProtocolError as exc:
        raise UpstreamFailed(f"{conn.upstream.name} broke HTTP/1.1: {exc.reason}") from None


async def forward(
    request: Request, route: Route, target: str, hop: Hop, pool: Pool, trace: Trace | None
) -> bool:
    """Forward one request; True if the client connection may carry another."""
    headers = upstream_request_headers(
        request.headers,
        client_ip=hop.client_ip,
        public_host=hop.public_origin.split("://", 1)[1],
        proto=hop.public_origin.split("://", 1)[0],
        upstream_authority=route.upstream.authority,
        forwarded=hop.forwarded,
    )
    headers = [(k, v) for k, v in headers if k.lower() != "expect"]
    if (http11.get(request.headers, "expect") or "").lower() == "100-continue":
        hop.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # we take the body, then send it on
    framing = hop.parser.framing
    if framing == "length":
        headers.append(("Content-Length", str(hop.parser.remaining)))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
    if route.seo and hop.rewrite:
        headers = [(k, v) for k, v in headers if k.lower() != "accept-encoding"]  # HTML we can read
    head = http11.request_head(request.method, target, (*headers, VIA))
    conn, response, parser = await send_request(request, route, head, framing, hop, pool, trace)
    if trace:
        trace.received(
            f"{response.status} {response.reason} from {route.upstream.name} (conn #{conn.id})",
            [f"{k}: {v}" for k, v in response.headers],
            peer=route.upstream.name,
        )
    upgrading = response.status == 101 and is_upgrade(request.headers)
    out = client_response_headers(response.headers, upgrade=upgrading)
    rewriter = None
    if route.seo and hop.rewrite:
        out, rewriter = rewrite_response(out, route, request, hop)
    client_keep = http11.keep_alive(request.version, request.headers)
    body = parser.framing != "none"
    if body and parser.framing == "length" and rewriter is None:
        out.append(("Content-Length", str(parser.remaining)))
    elif body and request.version == "HTTP/1.1":
        out.append(("Transfer-Encoding", "chunked"))
    elif body:
        client_keep = False  # an HTTP/1.0 client: the body ends when we close
    elif (
        request.method == "HEAD"
        and not rewriter
        and (length := http11.get(response.headers, "content-length"))
    ):
        out.append(("Content-Length", length))  # the length the GET would have had
    elif response.status >= 200 and response.status not in (204, 304) and request.method != "HEAD":
        out.append(("Content-Length", "0"))
    if not client_keep and not upgrading:
        out.append(("Connection", "close"))
    hop.writer.write(http11.response_head(response.status, response.reason, (*out, VIA)))
    if trace:
        note = f" (HTML, rewriting its URLs for {route.prefix}/)" if rewriter else ""
        trace.sent(
            f"{response.status} {response.reason} to client{note}",
            [f"{k}: {v}" for k, v in out],
            peer="client",
        )
    if upgrading:
        await splice(hop, conn, parser, trace)
        return False
    chunked = any(k == "Transfer-Encoding" for k, _ in out)
    try:
        while True:
            event = await read_upstream(conn, parser, hop.read_timeout)
            if isinstance(event, EndOfMessage):
                break
            assert isinstance(event, Data)
            data = rewriter.feed(event.data) if rewriter else event.data
            hop.writer.write(http11.chunk(data) if chunked else data)
            await hop.writer.drain()  # a slow client slows the upstream read: nothing piles up here
        tail = rewriter.close() if rewriter else b""
        hop.writer.write((http11.chunk(tail) + http11.LAST_CHUNK) if chunked else tail)
        await hop.writer.drain()
    except (UpstreamTimeout, UpstreamFailed) as exc:
        conn.close()
        # The head is already out: no error page can follow it.  Cutting the connection
        # (no last chunk) is how the client learns the body is incomplete.
        raise ResponseAborted(str(exc)) from None
    except BaseException:
        conn.close()  # half-read: never reuse it
        raise
    reusable = http11.keep_alive(response.version, response.headers) and parser.framing != "close"
    pool.release(conn, reusable and not parser.buffer)
    if trace and rewriter:
        trace.state(f"rewrote {rewriter.rewritten} URL(s) in the HTML for {route.prefix}/")
    return client_keep


async def send_request(
    request: Request, route: Route, head: bytes, framing: str, hop: Hop, pool: Pool, trace: Trace | None
) -> tuple[Connection, Response, http11.Reader]:
    """Write head and body to a pooled connection and read the response head.

    A reused connection that closes before any answer (the upstream's idle
    close raced our request) is retried once on a new connection, if the
    request had no body to send again.
    """
    for attempt in (1, 2):
        try:
            conn = await pool.acquire(route.upstream)
        except ConnectError as exc:
            raise UpstreamFailed(str(exc)) from None
        if trace:
            how = "reused" if conn.uses > 1 else "new"
            trace.sent(
                f"{request.method} {head.split(b' ', 2)[1].decode()} to {route.upstream.name} "
                f"(conn #{conn.id}, {how})",
                head.decode("latin-1").split("\r\n")[1:-2],
                peer=route.upstream.name,
            )
        parser = http11.Reader("response")
        parser.expect_response_to(request.method)
        try:
            conn.writer.write(head)
            if framing != "none":
                async for data in client_body(hop):
                    conn.writer.write(http11.chunk(data) if framing == "chunked" else data)
                    await conn.writer.drain()
                if framing == "chunked":
                    conn.writer.write(http11.LAST_CHUNK)
            await conn.writer.drain()
            event = await read_upstream(conn, parser, hop.read_timeout)
        except UpstreamFailed:
            conn.close()
            if attempt == 1 and conn.uses > 1 and framing == "none":
                continue
            raise
        except (UpstreamTimeout, ProtocolError):  # a ProtocolError here is the client's body (400)
            conn.close()
            raise
        except OSError as exc:
            conn.close()
            if attempt == 1 and conn.uses > 1 and framing == "none":
                continue
            raise UpstreamFailed(f"{route.upstream.name}: {exc}") from None
        assert isinstance(event, Response)
        if event.status == 100:  # we answered the client's Expect ourselves
            parser.state = "DONE"
            parser.start_next_cycle()
            event = await read_upstream(conn, parser, hop.read_timeout)
            assert isinstance(event, Response)
        return conn, event, parser
    raise AssertionError("unreachable")


def rewrite_response(
    headers: list[tuple[str, str]], route: Route, request: Request, hop: Hop
) -> tuple[list[tuple[str, str]], HtmlRewriter | None]:
    """Location, Set-Cookie and X-Robots-Tag for the public side; a rewriter if the body is HTML."""
    hosts = tuple(o.split("://", 1)[1].split(":")[0] for o in route.backend_origins)
    out = []
    for name, value in headers:
        key = name.lower()
        if key == "location":
            value = rewrite_location(value, route, route.backend_origins)
        elif key == "set-cookie":
            value = rewrite_set_cookie(value, route, hosts)
        elif key == "x-robots-tag":
            continue  # noindex is for the backend's own domain, not for its pages under ours
        out.append((name, value))
    content_type = next((v for k, v in out if k.lower() == "content-type"), "")
    encoded = any(k.lower() == "content-encoding" for k, _ in out)
    if not content_type.lower().startswith("text/html") or encoded:
        return out, None
    path = request.target.split("?", 1)[0]
    return out, HtmlRewriter(route, route.backend_origins, hop.public_origin + path)


async def splice(hop: Hop, conn: Connection, parser: http11.Reader, trace: Trace | None) -> None:
    """After 101: copy bytes both ways (WebSocket frames; no HTTP any more) until one side closes."""
    if trace:
        trace.state(f"switched protocols: splicing client <-> {conn.upstream.name} (conn #{conn.id})")
    await hop.writer.drain()

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, first: bytes) -> None:
        if first:
            dst.write(first)
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        dst.close()

    tasks = [
        asyncio.ensure_future(pump(hop.reader, conn.writer, hop.parser.trailing_data())),
        asyncio.ensure_future(pump(conn.reader, hop.writer, parser.trailing_data())),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.close()
