"""The reverse proxy: ``python -m learn_proxy.server --route /=main@HOST:P --route /blog=blog@HOST:Q``.

Reading order: http11 -> routing -> forwarding -> rewrite -> seo -> pool -> exchange -> **server**.

One asyncio task per client connection reads requests with the sans-I/O
parser (``http11.py``), routes each one (``routing.py``) and hands it to
``exchange.forward``; the connection stays open for the next request while
both sides keep it alive (RFC 9112 §9.3).  What the proxy answers itself:

- ``400``/``431``/``501``/``505`` for a request the parser refuses (smuggling
  shapes, oversized heads), then it closes the connection: after a framing
  error it cannot know where the next request would start;
- ``400`` for a path that would escape its route (``routing.normalize_path``);
- ``502`` when the upstream is down or breaks the protocol, ``504`` when it
  accepts the request and then stays silent for ``--read-timeout`` seconds;
- ``/robots.txt`` and ``/sitemap.xml``, merged from both upstreams (``seo.py``),
  when a route is marked ``--seo``.

Each mechanism has a switch that turns it off, for the demo's failing runs:
``--lenient`` (no smuggling checks), ``--no-normalize`` (paths routed as sent),
``--no-rewrite`` (the upstream's URLs pass unchanged), ``--no-forwarded``
(no X-Forwarded-*/Forwarded), ``--no-pool`` (a new upstream connection per request).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import signal
from collections.abc import Sequence

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

from . import http11
from .exchange import Hop, ResponseAborted, UpstreamFailed, UpstreamTimeout, forward
from .http11 import ProtocolError, Request
from .pool import Pool
from .routing import BadPath, Route, RoutingTable, Upstream, normalize_path
from .seo import merge_robots, merge_sitemaps

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


def error_response(status: int, message: str) -> bytes:
    """A small HTML error page; the connection closes after it."""
    reason = REASONS.get(status, "Error")
    body = (
        f"<!doctype html><title>{status} {reason}</title><h1>{status} {reason}</h1>"
        f"<p>{html.escape(message)}</p>\n"
    ).encode()
    return (
        http11.response_head(
            status,
            reason,
            (
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ),
        )
        + body
    )


class ProxyServer:
    def __init__(
        self,
        table: RoutingTable,
        pool: Pool,
        trace: Trace | None,
        *,
        strict: bool = True,
        rewrite: bool = True,
        forwarded: bool = True,
        read_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        max_head: int = http11.MAX_HEAD,
    ) -> None:
        self.table, self.pool, self.trace = table, pool, trace
        self.strict, self.rewrite, self.forwarded = strict, rewrite, forwarded
        self.read_timeout, self.idle_timeout, self.max_head = read_timeout, idle_timeout, max_head
        self.seo_route = next((r for r in table.routes if r.seo), None)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests one after another until either side closes."""
        peer = writer.get_extra_info("peername") or ("?", 0)
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        parser = http11.Reader("request", strict=self.strict, max_head=self.max_head)
        try:
            while True:
                request = await self.next_request(reader, parser)
                if request is None:
                    break
                host = http11.get(request.headers, "host") or f"{local[0]}:{local[1]}"
                hop = Hop(
                    reader,
                    writer,
                    parser,
                    peer[0],
                    f"http://{host}",
                    self.read_timeout,
                    self.rewrite,
                    self.forwarded,
                )
                if not await self.answer(request, hop):
                    break
                if parser.state != "DONE" and parser.framing == "none":
                    parser.next_event()  # the EndOfMessage of a request without a body
                if parser.state != "DONE":
                    break  # we answered without reading the body: the connection cannot go on
                parser.start_next_cycle()
        except ProtocolError as exc:
            if self.trace:
                self.trace.sent(
                    f"{exc.status} {exc.reason} to {peer[0]}; closing the connection", peer="client"
                )
            writer.write(error_response(exc.status, exc.reason))
        except (TimeoutError, ConnectionError):
            pass  # an idle or vanished client: nothing to answer
        finally:
            try:
                await writer.drain()
            except ConnectionError:
                pass
            writer.close()

    async def next_request(self, reader: asyncio.StreamReader, parser: http11.Reader) -> Request | None:
        while True:
            event = parser.next_event()
            if isinstance(event, Request):
                return event
            if parser.eof:
                return None
            data = await asyncio.wait_for(reader.read(65536), self.idle_timeout)
            parser.receive_data(data)

    async def answer(self, request: Request, hop: Hop) -> bool:
        """Route and forward one request, or answer it here; True to keep the connection."""
        trace = self.trace
        if trace:
            trace.received(
                f"{request.method} {request.target} {request.version} from {hop.client_ip}",
                [f"{k}: {v}" for k, v in request.headers],
                peer="client",
            )
        try:
            route, target = self.table.resolve(request.target)
        except BadPath as exc:
            return await self.refuse(hop, 400, f"{request.target}: {exc}")
        except LookupError as exc:
            return await self.refuse(hop, 404, str(exc))
        if self.seo_route and self.rewrite and route.prefix == "" and request.method == "GET":
            path = normalize_path(request.target.split("?", 1)[0])
            if path in ("/robots.txt", "/sitemap.xml"):
                return await self.merged(path, route, hop)
        try:
            return await forward(request, route, target, hop, self.pool, trace)
        except UpstreamTimeout as exc:
            return await self.refuse(hop, 504, str(exc))
        except UpstreamFailed as exc:
            return await self.refuse(hop, 502, str(exc))
        except (
            ProtocolError
        ) as exc:  # the client's body broke the framing (upstream errors are UpstreamFailed)
            return await self.refuse(hop, exc.status, exc.reason)
        except ResponseAborted as exc:
            if trace:
                trace.state(f"cut the client connection mid-response: {exc}")
            return False

    async def refuse(self, hop: Hop, status: int, message: str) -> bool:
        if self.trace:
            self.trace.sent(f"{status} {REASONS.get(status, '')} to client: {message}", peer="client")
        hop.writer.write(error_response(status, message))
        return False

    async def fetch(self, upstream: Upstream, path: str, host: str) -> str:
        """GET ``path`` from ``upstream`` on a pooled connection (for the merged SEO files)."""
        conn = await self.pool.acquire(upstream)
        try:
            conn.writer.write(
                http11.request_head(
                    "GET",
                    path,
                    (
                        ("Host", upstream.authority),
                        ("X-Forwarded-Host", host),
                        ("X-Forwarded-Proto", "http"),
                        ("Via", "1.1 learn_proxy"),
                    ),
                )
            )
            parser = http11.Reader("response")
            body = bytearray()
            while True:
                event = parser.next_event()
                if event is http11.NEED_DATA:
                    parser.receive_data(await asyncio.wait_for(conn.reader.read(65536), self.read_timeout))
                elif isinstance(event, http11.Response):
                    status = event.status
                elif isinstance(event, http11.Data):
                    body += event.data
                else:
                    break
        except BaseException:
            conn.close()
            raise
        self.pool.release(conn, parser.framing != "close")
        if self.trace:
            self.trace.received(
                f"{status} {path} from {upstream.name} ({len(body)} bytes) for merging", peer=upstream.name
            )
        return body.decode() if status == 200 else ""

    async def merged(self, path: str, main: Route, hop: Hop) -> bool:
        assert self.seo_route is not None
        host = hop.public_origin.split("://", 1)[1]
        try:
            mine = await self.fetch(main.upstream, path, host)
            theirs = await self.fetch(self.seo_route.upstream, path, host)  # the blog's own root file
        except (OSError, TimeoutError, ProtocolError) as exc:
            return await self.refuse(hop, 502, f"fetching {path} to merge: {exc}")
        if path == "/robots.txt":
            body, kind = (
                merge_robots(mine, theirs, self.seo_route, hop.public_origin + "/sitemap.xml"),
                "text/plain",
            )
        else:
            body = merge_sitemaps(
                mine, theirs, self.seo_route, self.seo_route.backend_origins, hop.public_origin
            )
            kind = "application/xml"
        data = body.encode()
        hop.writer.write(
            http11.response_head(
                200,
                "OK",
                (
                    ("Content-Type", f"{kind}; charset=utf-8"),
                    ("Content-Length", str(len(data))),
                    ("Via", "1.1 learn_proxy"),
                ),
            )
            + data
        )
        if self.trace:
            self.trace.sent(
                f"200 {path} merged from {main.upstream.name} and {self.seo_route.upstream.name}",
                body.splitlines(),
                peer="client",
            )
        return True


def parse_route(text: str, seo: dict[str, str]) -> Route:
    """``/blog=blog@127.0.0.1:8002`` -> Route (``seo`` maps prefixes to the upstream's own origin)."""
    prefix, _, rest = text.partition("=")
    name, _, address = rest.rpartition("@")
    host, _, port = address.rpartition(":")
    if not prefix.startswith("/") or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--route {text!r}: expected PREFIX=NAME@HOST:PORT")
    prefix = prefix.rstrip("/")
    upstream = Upstream(name or prefix.strip("/") or "main", host or "127.0.0.1", int(port))
    aliases = tuple(o for o in seo.get(prefix, "").split(",") if o)
    return Route(prefix, upstream, "/", seo=prefix in seo, aliases=aliases)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_proxy.server", description=__doc__.split("\n")[0])
    add_server_options(parser, port=8080)
    parser.add_argument(
        "--route",
        action="append",
        required=True,
        metavar="PREFIX=NAME@HOST:PORT",
        help="send PREFIX/* to HOST:PORT as /* (repeat; longest prefix wins)",
    )
    parser.add_argument(
        "--seo",
        action="append",
        default=[],
        metavar="PREFIX[=ORIGIN]",
        help="rewrite that route's redirects, cookies and HTML; ORIGIN: the backend's own domain",
    )
    parser.add_argument(
        "--read-timeout", type=float, default=10.0, help="seconds to wait on an upstream (504)"
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=3.0, help="seconds to connect upstream (502)"
    )
    parser.add_argument("--max-head", type=int, default=http11.MAX_HEAD, help="largest request head (431)")
    parser.add_argument(
        "--lenient", action="store_true", help="parse like a naive proxy: no smuggling checks"
    )
    parser.add_argument(
        "--no-normalize", action="store_true", help="route paths as sent (dot-segments and all)"
    )
    parser.add_argument(
        "--no-rewrite", action="store_true", help="pass the upstream's URLs through unchanged"
    )
    parser.add_argument("--no-forwarded", action="store_true", help="send no X-Forwarded-*/Forwarded fields")
    parser.add_argument("--no-pool", action="store_true", help="a new upstream connection for every request")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    if args.port != 0:
        ensure_port_free(args.host, args.port)
    seo = dict((s.partition("=")[0].rstrip("/"), s.partition("=")[2]) for s in args.seo)
    try:
        routes = [parse_route(r, seo) for r in args.route]
    except argparse.ArgumentTypeError as exc:
        raise SetupError(
            str(exc), "e.g. --route /=main@127.0.0.1:8001 --route /blog=blog@127.0.0.1:8002"
        ) from None
    trace = Trace("proxy", verbose=args.verbose, quiet=args.quiet)
    pool = Pool(connect_timeout=args.connect_timeout, enabled=not args.no_pool)
    proxy = ProxyServer(
        RoutingTable(routes, normalize=not args.no_normalize),
        pool,
        None if args.quiet else trace,
        strict=not args.lenient,
        rewrite=not args.no_rewrite,
        forwarded=not args.no_forwarded,
        read_timeout=args.read_timeout,
        max_head=args.max_head,
    )
    server = await asyncio.start_server(proxy.handle, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    for route in routes:
        trace.state(
            f"route {route.prefix}/* -> {route.upstream.name} {route.upstream.origin}"
            + (" (seo rewrites)" if route.seo else "")
        )
    announce(trace, f"http://{args.host}:{port}")
    await stop.wait()
    server.close()
    pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
