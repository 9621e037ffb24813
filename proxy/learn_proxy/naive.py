"""The naive variant: the same routing as a FastAPI app that forwards with httpx.

Reading order: after nginx_ref; the proxy people write first, for contrast.

``python -m learn_proxy.naive --main HOST:PORT --blog HOST:PORT`` runs a
catch-all FastAPI route on uvicorn that sends each request on with an
``httpx.AsyncClient`` (which pools connections) and streams the answer back.
It is short because the libraries do the HTTP: uvicorn parses requests
(with httptools, or h11 with ``--http h11``), httpx frames the upstream hop.
What it leaves out is the lesson:

- it trusts uvicorn's parser to refuse smuggling shapes: with h11, both
  ``Content-Length`` and ``Transfer-Encoding``, an obs-fold and bare LFs get
  through (and the request hidden behind CL+TE is answered); with httptools,
  a 20 KB header does (``tests/proxy/test_naive.py`` pins each one);
- it forwards the path as uvicorn decoded it, with no check that it stays
  under the prefix;
- it passes ``Location``, ``Set-Cookie`` and HTML through unchanged, so the
  blog breaks under ``/blog``;
- it copies every request header but ``Host``, ``Connection`` and the body
  framing, so a field named in ``Connection`` goes through, and it adds no
  ``X-Forwarded-*``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

DROP = {"host", "content-length", "transfer-encoding", "connection"}  # what httpx must set itself


def create_app(main: str, blog: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    client = httpx.AsyncClient(timeout=10.0)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def forward(request: Request, path: str) -> StreamingResponse:
        in_blog = path == "blog" or path.startswith("blog/")
        upstream, rest = (blog, path[len("blog") :]) if in_blog else (main, path)
        url = f"http://{upstream}/{rest.lstrip('/')}"
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP]
        sent = client.build_request(
            request.method, url, params=request.query_params, headers=headers, content=request.stream()
        )
        answer = await client.send(sent, stream=True)
        out = {k: v for k, v in answer.headers.items() if k.lower() not in DROP | {"content-encoding"}}
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=out,
            background=BackgroundTask(answer.aclose),
        )

    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_proxy.naive", description="The naive httpx proxy.")
    add_server_options(parser, port=8081)
    parser.add_argument("--main", required=True, metavar="HOST:PORT", help="the main site")
    parser.add_argument("--blog", required=True, metavar="HOST:PORT", help="the blog server")
    parser.add_argument("--http", choices=("httptools", "h11"), default="httptools", help="uvicorn's parser")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ensure_port_free(args.host, args.port)
    trace = Trace("naive", verbose=args.verbose, quiet=args.quiet)
    app = create_app(args.main, args.blog)
    await TracedServer(config(app, args.host, args.port, http=args.http), trace).serve()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
