"""A small HTTP-to-CGI bridge in front of ``git http-backend``: the reference server.

Reading order: last of the server side, beside ``http_server.py``; tests, the
demo and the benchmark run our client against it, and real git against both.
Spec: RFC 3875 (CGI 1.1: the request meta-variables, the ``Status:`` header);
git-http-backend(1) for the variables git reads.

    python -m learn_git.network.cgi_bridge --root DIR --port 8081

For every request the bridge runs ``git http-backend`` once, with the request
described in environment variables (``REQUEST_METHOD``, ``PATH_INFO``,
``QUERY_STRING``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``, ``HTTP_CONTENT_ENCODING``,
``GIT_PROTOCOL`` from the ``Git-Protocol`` header), the body on stdin, and
reads a CGI response on stdout: headers, a blank line, the body.  Two things
the bridge must do that are easy to miss:

- **de-chunk** the request body: git sends bodies over 1 MiB with
  ``Transfer-Encoding: chunked`` and CGI wants a ``CONTENT_LENGTH`` (uvicorn
  de-chunks for us; we count the bytes);
- turn the CGI ``Status:`` header into the HTTP status line.

Pushing is enabled with ``http.receivepack=true`` passed as ``GIT_CONFIG_*``
variables, so the served repositories need no configuration of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from wirelab_common.asgi_server import TracedServer, config, read_body, run_server
from wirelab_common.errors import SetupError, require_binary
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

MAX_BODY = 256 * 1024 * 1024


def cgi_environment(root: Path, method: str, path: str, query: str, headers, length: int) -> dict[str, str]:
    """The meta-variables ``git http-backend`` reads (RFC 3875 section 4.1)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(root)),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "true",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(length),
        "REMOTE_ADDR": "127.0.0.1",
    }
    # GIT_TRACE_PACKET (a file path) makes the upload-pack/receive-pack behind http-backend log
    # their pkt-lines: the server's side of the conversation, which the demo shows.
    for variable in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_TRACE_PACKET"):
        if variable in os.environ:
            env[variable] = os.environ[variable]
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    return env


def parse_cgi_response(output: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a CGI response; ``Status: 404 Not Found`` sets the status."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = output.partition(separator)
        if found:
            break
    else:
        raise ValueError("CGI output has no blank line after its headers")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip().lower()] = value.strip()
    return status, headers, body


def create_app(root: Path, git: str, trace: Trace) -> FastAPI:
    app = FastAPI(title="git http-backend bridge")

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def bridge(path: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY) or b""
        env = cgi_environment(root, request.method, "/" + path, request.url.query, request.headers, len(body))
        process = await asyncio.create_subprocess_exec(
            git, "http-backend", env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        output, errors = await process.communicate(body)
        try:
            status, headers, payload = parse_cgi_response(output)
        except ValueError:
            status, headers, payload = 502, {}, errors or b"git http-backend gave no response\n"
        trace.state(f"{request.method} /{path} -> {status} ({len(payload)} bytes)"
                    + (f" stderr: {errors.decode(errors='replace').strip()[:80]}" if errors else ""))
        media = headers.pop("content-type", None)
        headers.pop("content-length", None)
        return Response(payload, status_code=status, media_type=media, headers=headers)

    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_git.network.cgi_bridge",
                                     description="serve DIR's repositories through git http-backend")
    parser.add_argument("--root", type=Path, required=True, help="directory holding bare repositories")
    add_server_options(parser, port=8081)  # --host --port --loop -v -q
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("backend", verbose=args.verbose, quiet=args.quiet)
    git = require_binary("git", "apt-get install git (git http-backend ships with it)")
    if not args.root.is_dir():
        raise SetupError(f"--root {args.root} is not a directory", "create it first")
    ensure_port_free(args.host, args.port)
    app = create_app(args.root.resolve(), git, trace)
    await TracedServer(config(app, args.host, args.port), trace,
                       lambda host, port: [f"git http-backend for {args.root}"]).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
