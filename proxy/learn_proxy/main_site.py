"""The main site: a FastAPI app that owns the domain (``python -m learn_proxy.main_site``).

Reading order: after server; the backend that serves ``/`` through the proxy.

It is the app a company already runs at ``example.com``; the blog lives on
another server and appears under ``/blog`` only through the proxy.  Its pages:

- ``/`` a home page linking to the blog, ``/favicon.ico``, ``/robots.txt`` and ``/sitemap.xml``
  (its own; the proxy merges the blog's into them);
- ``/headers`` echoes the request line and headers it received, as JSON, so a
  client can see what the proxy changed (Host, X-Forwarded-*, Forwarded, and
  the hop-by-hop fields that must not arrive);
- ``/upload?key=`` counts a request body's bytes as they arrive, and
  ``/received?key=`` tells how many so far: a proxy that held the body back
  would show 0 while the client is still sending;
- ``/held?key=`` sends ``first``, then waits for ``/release?key=`` before it
  sends ``last``: a proxy that held the response back would never deliver
  ``first`` before the release; ``/stream?n=`` sends ``n`` lines, 50 ms apart;
- ``/slow?seconds=`` answers after a delay (the proxy's 504);
- ``/ws`` a WebSocket echo (the Upgrade must pass through the proxy).

Its sitemap names public URLs, built from ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` when the proxy sent them.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

HOME = """<!doctype html>
<html><head><meta charset="utf-8"><title>wirelab shop</title></head>
<body><h1>The main site</h1><p>Read <a href="/blog/">the blog</a>.</p></body></html>
"""
ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16"/></svg>'
ROBOTS = "User-agent: *\nDisallow: /admin/\n\nSitemap: /sitemap.xml\n"


def public_base(request: Request) -> str:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host", request.headers.get("host", ""))
    return f"{proto}://{host}"


def create_app(trace: Trace | None = None) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    received: dict[str, int] = {}  # upload key -> bytes seen so far
    gates: dict[str, asyncio.Event] = {}  # /held key -> released

    @app.middleware("http")
    async def log(request: Request, call_next):  # type: ignore[no-untyped-def]
        if trace:
            trace.received(
                f"{request.method} {request.url.path}",
                [f"{k}: {v}" for k, v in request.headers.items()],
                peer="proxy" if "via" in request.headers else "client",  # our proxy says Via
            )
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return HOME

    @app.get("/favicon.ico")
    async def favicon() -> Response:  # browsers ask the origin for it: one icon for the whole domain
        return Response(ICON, media_type="image/svg+xml")

    @app.get("/headers")
    async def headers(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": [[k, v] for k, v in request.headers.items()],
            }
        )

    @app.get("/admin")
    async def admin() -> PlainTextResponse:
        return PlainTextResponse("the main site's /admin (not the blog's)")

    @app.post("/upload")
    async def upload(request: Request, key: str = "") -> JSONResponse:
        size, pieces = 0, 0
        async for piece in request.stream():
            size += len(piece)
            pieces += 1 if piece else 0
            received[key] = size  # visible at /received while the body is still arriving
        return JSONResponse({"bytes": size, "pieces": pieces})

    @app.get("/received")
    async def received_so_far(key: str) -> JSONResponse:
        return JSONResponse({"bytes": received.get(key, 0)})

    @app.get("/held")
    async def held_stream(key: str) -> StreamingResponse:
        """``first``, then nothing until ``/release?key=`` is called (at most 10 s), then ``last``."""
        gate = gates.setdefault(key, asyncio.Event())

        async def lines() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.wait_for(gate.wait(), 10)
            yield b"last\n"

        return StreamingResponse(lines(), media_type="text/plain")

    @app.get("/release")
    async def release(key: str) -> JSONResponse:
        gates.setdefault(key, asyncio.Event()).set()
        return JSONResponse({"released": key})

    @app.get("/stream")
    async def stream(n: int = 5) -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            for i in range(n):
                yield f"line {i}\n".encode()
                await asyncio.sleep(0.05)

        return StreamingResponse(lines(), media_type="text/plain")

    @app.get("/slow")
    async def slow(seconds: float = 3.0) -> PlainTextResponse:
        await asyncio.sleep(seconds)
        return PlainTextResponse(f"slept {seconds} s")

    @app.get("/robots.txt")
    async def robots(request: Request) -> PlainTextResponse:
        return PlainTextResponse(ROBOTS.replace("/sitemap.xml", public_base(request) + "/sitemap.xml"))

    @app.get("/sitemap.xml")
    async def sitemap(request: Request) -> Response:
        base = public_base(request)
        urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in ("/", "/pricing"))
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
            f'"http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n',
            media_type="application/xml",
        )

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(f"echo: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            pass

    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m learn_proxy.main_site", description="The main site (FastAPI)."
    )
    add_server_options(parser, port=8001)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ensure_port_free(args.host, args.port)
    trace = Trace("main", verbose=args.verbose, quiet=args.quiet)
    app = create_app(None if args.quiet else trace)
    await TracedServer(config(app, args.host, args.port), trace).serve()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
