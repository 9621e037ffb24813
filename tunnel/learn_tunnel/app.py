"""The local app the agent exposes: a FastAPI app on loopback that nobody outside can reach.

Reading order: frames -> mux -> session -> routing -> relay / agent (**app**) -> demo.

Run: ``python -m learn_tunnel.app --port 8022``.  Endpoints the demo and the
tests use through the tunnel:

- ``/`` an HTML page with a stylesheet and a script, linked *relatively* so
  the page works under ``NAME.localhost/`` and under ``/t/NAME/`` alike;
- ``/headers`` the request headers the app saw (X-Forwarded-For, Host);
- ``POST /upload`` reads the body as it streams in, answers its size and SHA-256;
- ``/download?size=N`` N bytes (a repeating pattern), streamed;
- ``/slow?seconds=S`` answers after S seconds (the relay's 504);
- ``/ticks?n=N&every=S`` a body in N pieces, S seconds apart;
- ``/ws`` a WebSocket echo (``bye`` closes it with code 4000);
- ``/stats`` how many ticks bodies were cut off because the client went
  away, and how many bytes ``/download`` has produced so far.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

PATTERN = bytes(range(256)) * 256  # 64 KiB; a download is this, repeated and cut to size
PAGE = """<!doctype html>
<html><head><title>through the tunnel</title><link rel="stylesheet" href="static/style.css"></head>
<body><h1>served by the local app</h1><p id="status">script not run</p>
<script src="static/app.js"></script></body></html>
"""
STYLE = "h1 { color: rgb(0, 128, 0); }\n"
SCRIPT = "document.getElementById('status').textContent = 'script ran';\n"


def pattern_bytes(size: int) -> bytes:
    """What ``/download?size=N`` sends, for a client to compare with."""
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


def create_app() -> FastAPI:
    app = FastAPI(title="local app")
    app.state.cut_off = 0
    app.state.download_bytes = 0  # produced by /download so far: shows whether backpressure reached us

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE

    @app.get("/static/style.css")
    async def style() -> Response:
        return Response(STYLE, media_type="text/css")

    @app.get("/static/app.js")
    async def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/headers")
    async def headers(request: Request) -> dict[str, str]:
        return dict(request.headers)

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, object]:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        return {"bytes": size, "sha256": digest.hexdigest()}

    @app.get("/download")
    async def download(size: int = 1 << 20) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for start in range(0, size, len(PATTERN)):
                chunk = PATTERN[: min(len(PATTERN), size - start)]
                app.state.download_bytes += len(chunk)
                yield chunk
        return StreamingResponse(body(), media_type="application/octet-stream",
                                 headers={"content-length": str(size)})

    @app.get("/slow", response_class=PlainTextResponse)
    async def slow(seconds: float = 1.0) -> str:
        await asyncio.sleep(seconds)
        return f"slow answer after {seconds:g} s\n"

    @app.get("/ticks")
    async def ticks(n: int = 10, every: float = 0.2) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            finished = False
            try:
                for i in range(n):
                    yield f"tick {i}\n".encode()
                    await asyncio.sleep(every)
                finished = True
            finally:
                if not finished:
                    app.state.cut_off += 1  # the client went away (or was cut) mid-body
        return StreamingResponse(body(), media_type="text/plain")

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        """Echo each message; the text ``bye`` closes with 4000 (a code the tunnel must pass on)."""
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") == "bye":
                    return await websocket.close(4000, "bye from the app")
                if message.get("text") is not None:
                    await websocket.send_text("echo: " + message["text"])
                else:
                    await websocket.send_bytes(message.get("bytes") or b"")
        except WebSocketDisconnect:
            return

    @app.get("/stats")
    async def stats() -> dict[str, int]:
        return {"cut_off": app.state.cut_off, "download_bytes": app.state.download_bytes}

    return app


async def serve_app(args: argparse.Namespace) -> None:
    trace = Trace("app", args.verbose, quiet=args.quiet)
    await TracedServer(config(create_app(), args.host, args.port), trace).serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.app", description=__doc__.split("\n")[0])
    add_server_options(parser, port=8022)
    args = parser.parse_args(argv)
    run_server(lambda: serve_app(args), args.loop)


if __name__ == "__main__":
    main()
