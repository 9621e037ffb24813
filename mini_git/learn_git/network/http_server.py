"""The smart HTTP server: several bare repositories under one root, on FastAPI.

Reading order: after ``receive_pack.py``; this is the asyncio driver of the
server side.  Spec: gitprotocol-http "Smart Service git-upload-pack",
"Smart Service git-receive-pack", "Authentication"; RFC 7617 (Basic auth).

    python -m learn_git.network.http_server --root DIR --port 8080 --user alice:secret -v

Three routes, the ones ``git http-backend`` answers::

    GET  /<repo>/info/refs?service=git-upload-pack|git-receive-pack   ref advertisement
    POST /<repo>/git-upload-pack                                      negotiation + pack
    POST /<repo>/git-receive-pack                                     push

Reads are public; anything that leads to a push needs a ``--user`` (401 with
``WWW-Authenticate: Basic`` first, which is what makes git ask for, or send,
its credentials).  A repository path must name a bare repository inside
``--root``: ``..``, encoded or not, and absolute paths are refused.  Request
bodies may be chunked (uvicorn de-chunks them; git sends any push body over
its ``http.postBuffer`` chunked, after a ``0000`` probe that is answered 200
with an empty body) or gzip-encoded (git gzips large negotiation bodies); the
protocol work runs in a worker thread because it is CPU and disk work.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import zlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from wirelab_common.asgi_server import TracedServer, config, read_body, run_server
from wirelab_common.errors import SetupError
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from ..errors import GitError
from ..odb import ObjectStore
from . import upload_pack_v2
from .pack_stream import ResolvedPacks
from .pkt_line import PktLineError, describe_stream
from .receive_pack import advertised_refs as receive_refs
from .receive_pack import serve_receive_pack
from .smart_http import (
    RECEIVE_PACK,
    RECEIVE_PACK_CAPS,
    SERVICES,
    UPLOAD_PACK,
    advertisement_type,
    build_advertisement,
    conversation_id,
    request_type,
    result_type,
)
from .upload_pack import advertised_refs as upload_refs
from .upload_pack import capabilities, serve_upload_pack

MAX_BODY = 256 * 1024 * 1024   # a bound on what one request may make us buffer
CLIENTS = ("git", "mini_git")  # User-Agent products the trace events name as peers (client_of)
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache",
            "Expires": "Fri, 01 Jan 1980 00:00:00 GMT"}


class BadRequest(GitError):
    """The HTTP request itself is wrong: answered with its status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def resolve_repo(root: Path, repo: str) -> Path:
    """The bare repository ``repo`` names under ``root``, or BadRequest(404/400)."""
    parts = repo.split("/")
    if repo.startswith("/") or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        raise BadRequest(400, f"invalid repository path {repo!r}")
    path = (root / repo).resolve()
    if not path.is_relative_to(root):     # a symlink pointing out of the root
        raise BadRequest(404, "repository not found")
    if not ((path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()):
        raise BadRequest(404, "repository not found")
    return path


def check_user(users: dict[str, str], header: str | None) -> str:
    """The authenticated user name, or BadRequest(401/403)."""
    if not users:
        raise BadRequest(403, "push is disabled: start the server with --user name:password")
    if not header or not header.lower().startswith("basic "):
        raise BadRequest(401, "authentication required to push")
    try:
        name, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise BadRequest(401, "malformed Basic credentials") from None
    expected = users.get(name)
    if expected is None or not hmac.compare_digest(expected, password):
        raise BadRequest(401, "wrong user name or password")
    return name


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    """The request body with any ``Content-Encoding: gzip`` removed (bounded)."""
    if not encoding or encoding == "identity":
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BadRequest(415, f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, MAX_BODY)
    except zlib.error as exc:
        raise BadRequest(400, f"bad gzip body: {exc}") from None
    if inflater.unconsumed_tail:
        raise BadRequest(413, "gzip body inflates beyond the size limit")
    return body


def client_of(request: Request) -> str | None:
    """The client in the structured trace events (``peer``), by its User-Agent product:
    real git ("git/2.39.5"; it traces nothing itself) or our client ("mini_git/0.1", the
    name the network demo gives its trace; the CLI's ``-v`` trace is named client, which
    a User-Agent cannot tell apart).  Anyone else (curl...) stays unnamed."""
    product = request.headers.get("user-agent", "").split("/")[0]
    return product if product in CLIENTS else None


def create_app(root: Path, users: dict[str, str], trace: Trace, deny_non_ff: bool = True) -> FastAPI:
    app = FastAPI(title="mini_git smart HTTP")
    root = root.resolve()
    resolved_packs = ResolvedPacks()   # packs never change: resolve each once, serve many clones

    def fail(exc: BadRequest, request: Request, cid: str | None = None) -> Response:
        trace.sent(f"{exc.status} {exc}", peer=client_of(request), cid=cid)
        headers = {"WWW-Authenticate": 'Basic realm="mini_git"'} if exc.status == 401 else {}
        return PlainTextResponse(f"{exc}\n", status_code=exc.status, headers=headers)

    @app.get("/{repo:path}/info/refs")
    async def info_refs(repo: str, request: Request) -> Response:
        service = request.query_params.get("service")
        trace.received(f"GET /{repo}/info/refs?service={service}", peer=client_of(request))
        try:
            if service not in SERVICES:
                raise BadRequest(403, "dumb HTTP is not served: ask for ?service=git-upload-pack")
            path = resolve_repo(root, repo)
            if service == RECEIVE_PACK:
                check_user(users, request.headers.get("authorization"))
        except BadRequest as exc:
            return fail(exc, request)
        protocol = request.headers.get("git-protocol", "")
        if service == UPLOAD_PACK and "version=2" in protocol.split(":"):
            body = upload_pack_v2.advertisement()
        elif service == UPLOAD_PACK:
            odb = ObjectStore(path)
            body = build_advertisement(service, upload_refs(path, odb), capabilities(path))
        else:
            body = build_advertisement(service, receive_refs(path), RECEIVE_PACK_CAPS)
        trace.sent(f"200 {advertisement_type(service)} ({len(body)} bytes)", describe_stream(body),
                   peer=client_of(request))
        return Response(body, media_type=advertisement_type(service), headers=NO_CACHE)

    async def read_request(request: Request, service: str) -> bytes:
        if request.headers.get("content-type") != request_type(service):
            raise BadRequest(415, f"Content-Type must be {request_type(service)}")
        raw = await read_body(request, MAX_BODY)
        if raw is None:
            raise BadRequest(413, "request body too large")
        return decode_body(raw, request.headers.get("content-encoding"))

    @app.post("/{repo:path}/git-upload-pack")
    async def upload(repo: str, request: Request) -> Response:
        cid = None
        try:
            path = resolve_repo(root, repo)
            body = await read_request(request, UPLOAD_PACK)
            cid = conversation_id(body)
            trace.received(f"POST /{repo}/git-upload-pack ({len(body)} bytes)", describe_stream(body),
                           peer=client_of(request), cid=cid)
            serve = serve_upload_pack
            if "version=2" in request.headers.get("git-protocol", "").split(":"):
                serve = upload_pack_v2.serve
            reply, stats = await run_in_threadpool(
                lambda: serve(path, resolved_packs.store(ObjectStore(path)), body))
        except BadRequest as exc:
            return fail(exc, request, cid)
        except (GitError, PktLineError) as exc:
            return fail(BadRequest(400, f"bad upload-pack request: {exc}"), request, cid)
        summary = ", ".join(f"{k} {v}" for k, v in stats.items())
        trace.sent(f"200 {result_type(UPLOAD_PACK)} ({summary})", describe_stream(reply, 12),
                   peer=client_of(request), cid=cid)
        return Response(reply, media_type=result_type(UPLOAD_PACK), headers=NO_CACHE)

    @app.post("/{repo:path}/git-receive-pack")
    async def receive(repo: str, request: Request) -> Response:
        cid = None
        try:
            path = resolve_repo(root, repo)
            user = check_user(users, request.headers.get("authorization"))
            body = await read_request(request, RECEIVE_PACK)
            cid = conversation_id(body)
            trace.received(f"POST /{repo}/git-receive-pack by {user} ({len(body)} bytes)",
                           describe_stream(body), peer=client_of(request), cid=cid)
            reply, commands = await run_in_threadpool(serve_receive_pack, path, ObjectStore(path), body,
                                                      deny_non_ff)
        except BadRequest as exc:
            return fail(exc, request, cid)
        except (GitError, PktLineError) as exc:
            return fail(BadRequest(400, f"bad receive-pack request: {exc}"), request, cid)
        if not commands:
            trace.state("no commands: nothing to do (git probes like this before a large push)")
        for cmd in commands:
            outcome = "ok" if cmd.error is None else f"ng ({cmd.error})"
            trace.state(f"{cmd.ref}: {cmd.old[:7]} -> {cmd.new[:7]} {outcome}")
        trace.sent(f"200 {result_type(RECEIVE_PACK)} ({len(reply)} bytes)", describe_stream(reply),
                   peer=client_of(request), cid=cid)
        return Response(reply, media_type=result_type(RECEIVE_PACK), headers=NO_CACHE)

    return app


def parse_users(values: list[str]) -> dict[str, str]:
    users = {}
    for value in values:
        name, sep, password = value.partition(":")
        if not sep or not name:
            raise SetupError(f"--user {value!r} is not name:password", "pass --user alice:secret")
        users[name] = password
    return users


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_git.network.http_server",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="directory holding bare repositories")
    parser.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                        help="a user allowed to push (repeatable); without one, pushes are refused")
    parser.add_argument("--allow-non-fast-forward", action="store_true",
                        help="accept forced non-fast-forward pushes (git's default; refused unless given, "
                             "as git with receive.denyNonFastForwards=true)")
    add_server_options(parser, port=8080)  # --host --port --loop -v (every pkt-line) -q
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("server", verbose=args.verbose, quiet=args.quiet)
    if not args.root.is_dir():
        raise SetupError(f"--root {args.root} is not a directory", "create it, or point at your repositories")
    ensure_port_free(args.host, args.port)
    users = parse_users(args.user)
    app = create_app(args.root, users, trace, deny_non_ff=not args.allow_non_fast_forward)

    def describe(host: str, port: int) -> list[str]:
        repos = sorted(p.parent.relative_to(args.root.resolve()).as_posix()
                       for p in args.root.resolve().glob("**/HEAD") if (p.parent / "objects").is_dir())
        return [f"root {args.root} ({len(repos)} repositories: {', '.join(repos[:5])})",
                f"push users: {', '.join(users) or 'none (push disabled)'}",
                f"forced non-fast-forward pushes: {'accepted' if args.allow_non_fast_forward else 'refused'}",
                f"clone with: git clone http://{host}:{port}/<repo>"]

    await TracedServer(config(app, args.host, args.port), trace, describe).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
