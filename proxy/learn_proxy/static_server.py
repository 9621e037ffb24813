"""The blog's own server: a static site's output on its own origin (``python -m learn_proxy.static_server``).

Reading order: after main_site; the backend the proxy mounts under ``/blog``.

``blog_site/`` is what a static site generator (Hugo, Jekyll, Eleventy...)
writes with ``baseURL = "http://blog.wirelab.test/"``: root-relative links and
asset paths (``/css/site.css``), a few absolute URLs on that domain, a
canonical link on the home page and none on the post, its own ``robots.txt``
and ``sitemap.xml``.  The files are checked in as that output; no generator
runs here.

Served by Starlette's ``StaticFiles`` on uvicorn (``html=True``: ``/x/`` serves
``/x/index.html``, ``/x`` redirects to ``/x/`` with an *absolute* ``Location``
on this server's own origin, the first thing the proxy must rewrite).  Two
more things a hosted blog does, added by a small middleware:

- ``X-Robots-Tag: noindex`` on every response: the blog's own domain must not
  be indexed, only its pages under the main domain (the proxy drops the field);
- ``Set-Cookie: reader=...; Path=/`` on HTML pages, a cookie whose path only
  works under the prefix once the proxy rewrites it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import resources

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

SITE = resources.files("learn_proxy") / "blog_site"
OWN_ORIGIN = "http://blog.wirelab.test"  # the generator's baseURL: the blog's own domain


class BlogHeaders:
    """ASGI middleware: X-Robots-Tag on everything, the reader cookie on HTML."""

    def __init__(self, app: ASGIApp, trace: Trace | None) -> None:
        self.app = app
        self.trace = trace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Our proxy announces itself with Via (RFC 9110 §7.6.3); anyone else is a direct client.
        peer = "proxy" if any(k == b"via" for k, _ in scope["headers"]) else "client"
        if self.trace:
            self.trace.received(
                f"{scope['method']} {scope['path']}",
                [f"{k.decode()}: {v.decode()}" for k, v in scope["headers"]],
                peer=peer,
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-robots-tag", b"noindex"))
                if any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers.append((b"set-cookie", b"reader=blog-visitor; Path=/; HttpOnly; SameSite=Lax"))
                message = {**message, "headers": headers}
                if self.trace:
                    self.trace.sent(f"{message['status']} {scope['path']}", peer=peer)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(trace: Trace | None = None) -> ASGIApp:
    app = Starlette(routes=[Mount("/", StaticFiles(directory=str(SITE), html=True))])
    return BlogHeaders(app, trace)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m learn_proxy.static_server", description="The blog: a static site on its own server."
    )
    add_server_options(parser, port=8002)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ensure_port_free(args.host, args.port)
    trace = Trace("blog", verbose=args.verbose, quiet=args.quiet)
    app = create_app(None if args.quiet else trace)
    await TracedServer(config(app, args.host, args.port), trace).serve()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
