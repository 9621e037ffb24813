"""The CA's hand-written HTTP-01 GET (validation.http_get) reads what httpx reads.

Against our responder, uvicorn serving FastAPI, and a raw server answering
with a chunked body, a close-delimited body, a 404, an oversized body and
garbage: the same status and body as httpx, or an error where httpx fails.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from learn_acme.responder import Responder
from learn_acme.validation import BODY_LIMIT, http_get
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

KEY_AUTHZ = "tok." + "t" * 43
ANSWERS = {
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntok.\r\n2b\r\n"
    + b"t" * 43
    + b"\r\n0\r\n\r\n",
    "/close-delimited": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + KEY_AUTHZ.encode() + b"\n",
    "/big": b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
    "/missing": b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
}


async def raw_server() -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1].decode()
        writer.write(ANSWERS.get(path, b"SSH-2.0-not-http\r\n\r\n"))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def both(port: int, path: str) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    ours = await http_get("127.0.0.1", port, path, "www.wirelab.test", 5)
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{port}{path}", headers={"Host": "www.wirelab.test"})
    return ours, (response.status_code, response.content[:BODY_LIMIT])


@pytest.mark.timeout(30)
async def test_the_same_answers_as_httpx_from_a_raw_server():
    server = await raw_server()
    port = server.sockets[0].getsockname()[1]
    try:
        for path in ANSWERS:
            ours, theirs = await both(port, path)
            assert ours == theirs, path
        assert (await http_get("127.0.0.1", port, "/chunked", "h", 5))[1] == KEY_AUTHZ.encode()
        with pytest.raises(ValueError):
            await http_get("127.0.0.1", port, "/not-http", "h", 5)
    finally:
        server.close()


@pytest.mark.timeout(30)
async def test_the_same_answers_as_httpx_from_our_responder_and_uvicorn():
    web = Responder(Trace("web", quiet=True))
    await web.start()
    web.tokens["tok"] = KEY_AUTHZ
    app = FastAPI()

    @app.get("/.well-known/acme-challenge/{token}", response_class=PlainTextResponse)
    async def token(token: str) -> str:
        return KEY_AUTHZ

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.02)
        for port in (web.port, sock.getsockname()[1]):
            for path in ("/.well-known/acme-challenge/tok", "/.well-known/acme-challenge/other", "/"):
                ours, theirs = await both(port, path)
                assert ours[0] == theirs[0] and ours[1] == theirs[1], (port, path)
    finally:
        server.should_exit = True
        await task
        await web.close()


@pytest.mark.timeout(30)
async def test_a_closed_port_and_a_silent_server_are_errors_within_the_timeout():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed = sock.getsockname()[1]
    sock.close()
    with pytest.raises(OSError):
        await http_get("127.0.0.1", closed, "/", "h", 5)

    async def silent(reader, writer):
        await asyncio.sleep(10)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        with pytest.raises(TimeoutError):
            await http_get("127.0.0.1", server.sockets[0].getsockname()[1], "/", "h", 0.3)
    finally:
        server.close()
