"""The hand-rolled WebSocket beside the ``websockets`` library, on both sides of the wire.

(a) the ``websockets`` client against our server process;
(b) our client against a ``websockets`` server running in this test.
Our code against our code, raw sockets and the CLI are in test_handrolled_loopback.py.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal

import pytest
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosedError

from learn_websocket.aio import ConnectionClosed
from learn_websocket.client import connect as handrolled_connect
from learn_websocket.handshake import HandshakeError
from learn_websocket.protocol import State
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential


TIMEOUT = 10


def quiet_trace() -> Trace:
    return Trace("client", verbose=True, stream=io.StringIO())


# (a) the websockets library's client -> our server ---------------------------------


async def test_websockets_client_gets_text_binary_and_a_1_mib_message_echoed(echo_server) -> None:
    proc, uri = echo_server()
    big = os.urandom(2**20)
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri) as ws:
        await ws.send("hello, hand-rolled server")
        assert await ws.recv() == "hello, hand-rolled server"
        await ws.send(b"\x00\x01\xfe\xff")
        assert await ws.recv() == b"\x00\x01\xfe\xff"
        await ws.send("ünïcödé ✓")
        assert await ws.recv() == "ünïcödé ✓"
        await ws.send(big)
        assert await ws.recv() == big
        pong = await ws.ping(b"ping!")
        await pong
    assert ws.close_code == 1000  # the server echoed our close code (§5.5.1)
    # The trace lines reach us through a pipe: wait for them rather than race them.
    proc.wait_line(re.escape("< server   TEXT 'hello, hand-rolled server'"), timeout=5)
    proc.wait_line(re.escape("> server   PONG b'ping!'"), timeout=5)


async def test_websockets_client_sees_1009_for_a_message_over_the_servers_limit(echo_server) -> None:
    _, uri = echo_server("--max-size", "1000")
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri) as ws:
        await ws.send(b"x" * 1000)
        assert await ws.recv() == b"x" * 1000
        await ws.send(b"x" * 1001)
        with pytest.raises(ConnectionClosedError) as caught:
            await ws.recv()
    assert caught.value.rcvd.code == 1009


async def test_websockets_client_sees_1001_when_the_server_shuts_down(echo_server) -> None:
    proc, uri = echo_server()
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri) as ws:
        await ws.send("before shutdown")
        assert await ws.recv() == "before shutdown"
        proc.signal(signal.SIGTERM)
        with pytest.raises(Exception) as caught:
            await ws.recv()
    assert ws.close_code == 1001  # §7.4.1 "going away"
    assert "ConnectionClosed" in type(caught.value).__name__
    assert proc.popen.wait(TIMEOUT) == 0


async def test_handrolled_client_talks_to_a_websockets_server() -> None:
    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with asyncio.timeout(TIMEOUT), websockets_serve(echo, "127.0.0.1", 0,
                                                          subprotocols=["chat"]) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await handrolled_connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat"],
                                      trace=quiet_trace(), fragment_size=7)
        assert ws.subprotocol == "chat"
        assert ws.opening.response.headers.get("sec-websocket-protocol") == "chat"
        for text in ["hello", "a longer message that goes out in fragments", "κόσμε"]:
            await ws.send(text)
            assert await ws.recv() == text
        await ws.send(bytes(range(256)))
        assert await ws.recv() == bytes(range(256))
        await ws.ping(b"are you there?")
        await ws.close()
        assert ws.close_code == 1000


async def test_handrolled_client_answers_keepalive_pings_while_the_application_is_busy() -> None:
    async def greet(ws) -> None:
        await ws.send("still here")
        await ws.wait_closed()

    async with asyncio.timeout(TIMEOUT), websockets_serve(greet, "127.0.0.1", 0,
                                                          ping_interval=0.1, ping_timeout=0.7) as server:
        port = server.sockets[0].getsockname()[1]
        async with handrolled_connect(f"ws://127.0.0.1:{port}/", trace=quiet_trace()) as ws:
            # Not reading for many ping intervals, longer than one timeout: the
            # pongs must go out from the event loop's callback, not from recv().
            await asyncio.sleep(1.5)
            assert await ws.recv() == "still here"
            assert ws.connection.state is State.OPEN


async def test_a_peer_that_never_pongs_is_dropped_by_the_websockets_keepalive() -> None:
    async def wait_forever(ws) -> None:
        await ws.wait_closed()

    async with asyncio.timeout(TIMEOUT), websockets_serve(wait_forever, "127.0.0.1", 0,
                                                          ping_interval=0.2, ping_timeout=0.3) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await handrolled_connect(f"ws://127.0.0.1:{port}/", auto_pong=False, trace=quiet_trace())
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.code == 1011  # websockets: "keepalive ping timeout"
        await ws.wait_closed()


async def test_websockets_client_may_ask_for_any_path_of_the_echo_server(echo_server) -> None:
    _, uri = echo_server()
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri + "any/path?x=1") as ws:
        await ws.send("the echo server ignores the path")
        assert await ws.recv() == "the echo server ignores the path"


async def test_handrolled_client_reports_a_server_that_answers_403() -> None:
    async with websockets_serve(lambda ws: None, "127.0.0.1", 0,
                                process_request=lambda conn, req: conn.respond(403, "go away\n")) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(HandshakeError) as caught:
            await handrolled_connect(f"ws://127.0.0.1:{port}/", trace=quiet_trace())
    assert caught.value.status == 403
