"""The hand-rolled WebSocket against real peers: the ``websockets`` library, raw sockets, its own CLI.

(a) the ``websockets`` client against our server process;
(b) our client against a ``websockets`` server running in this test;
(c) our CLI client process against our server process;
(d) bad handshakes (garbage, wrong version) and protocol errors, after which the
    server still serves the next client.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys

import pytest
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosedError

from learn_websocket.aio import ConnectionClosed
from learn_websocket.client import connect as handrolled_connect
from learn_websocket.frames import Opcode, encode
from learn_websocket.handshake import HandshakeError, build_response, parse_request, validate_request
from learn_websocket.protocol import State
from learn_websocket.server import echo, serve
from wirelab_common.ports import free_port
from wirelab_common.wiretrace import Trace

READY = r"listening on ws://"
TIMEOUT = 10


@pytest.fixture
def echo_server(procs):
    """Start ``python -m learn_websocket.server`` on a free port; return (process, ws:// URI)."""

    def start(*args: str):
        port = free_port()
        proc = procs.python("learn_websocket.server", "--port", str(port), *args, ready_line=READY)
        return proc, f"ws://127.0.0.1:{port}/"

    return start


def quiet_trace() -> Trace:
    return Trace("client", verbose=True, stream=io.StringIO())


async def raw_exchange(uri: str, request: bytes) -> bytes:
    """Send ``request`` on a raw TCP connection; return everything until the server closes."""
    host, port = uri.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    async with asyncio.timeout(TIMEOUT):
        answer = await reader.read()  # until EOF: the server closes after an error
    writer.close()
    return answer


def good_request(uri: str, version: str = "13") -> bytes:
    """The RFC's sample handshake (§1.2), aimed at ``uri``."""
    host = uri.removeprefix("ws://").rstrip("/")
    return (f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: {version}\r\n\r\n").encode()


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


# (b) our client -> the websockets library's server ----------------------------------


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
        assert ws.handshake_response.headers.get("sec-websocket-protocol") == "chat"
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


# (c) our CLI client process -> our server process ---------------------------------


async def run_cli_client(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "learn_websocket.client", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(TIMEOUT + 5):
        output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_cli_client_against_the_server_process_exits_0(echo_server) -> None:
    _, uri = echo_server()
    code, output = await run_cli_client(uri, "--send", "hello", "--send", "wörld", "--ping", "-v")
    assert code == 0, output
    assert "> client   TEXT 'wörld'" in output
    assert "Sec-WebSocket-Accept:" in output  # -v shows the handshake headers
    assert "all 2 echo(es) matched, ping answered" in output


async def test_cli_client_exits_1_when_the_echo_is_wrong() -> None:
    async def shout(ws) -> None:
        async for message in ws:
            await ws.send(message.upper())

    async with websockets_serve(shout, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        code, output = await run_cli_client(f"ws://127.0.0.1:{port}/", "--send", "quiet please")
    assert code == 1, output
    assert "FAILED: sent 'quiet please' but the server echoed 'QUIET PLEASE'" in output


async def test_cli_client_exits_2_with_a_hint_when_nothing_listens() -> None:
    code, output = await run_cli_client(f"ws://127.0.0.1:{free_port()}/")
    assert code == 2, output
    assert "start a server" in output


# (d) bad clients get clear errors, and the server keeps serving -----------------------


async def test_garbage_gets_400_and_the_server_keeps_serving(echo_server) -> None:
    proc, uri = echo_server()
    answer = await raw_exchange(uri, b"HELLO? IS THIS FTP?\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"not an HTTP request line" in answer
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri) as ws:
        await ws.send("after the garbage")
        assert await ws.recv() == "after the garbage"
    proc.wait_line("HTTP 400: not an HTTP request line", timeout=5)


async def test_wrong_version_gets_426_naming_version_13(echo_server) -> None:
    _, uri = echo_server()
    answer = await raw_exchange(uri, good_request(uri, version="8"))
    assert answer.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer


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


async def test_unmasked_client_frame_is_closed_with_1002_and_the_server_keeps_serving(echo_server) -> None:
    proc, uri = echo_server()
    answer = await raw_exchange(uri, good_request(uri) + encode(Opcode.TEXT, b"not masked"))
    head, _, frames = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert frames[:4] == bytes([0x88, frames[1], 0x03, 0xEA])  # CLOSE 1002 (§7.4.1)
    async with asyncio.timeout(TIMEOUT), websockets_connect(uri) as ws:
        await ws.send("next client")
        assert await ws.recv() == "next client"
    proc.wait_line("CLOSE 1002 'client frame not masked'", timeout=5)


async def test_server_refuses_a_busy_port_with_a_hint() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "learn_websocket.server", "--port", str(port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        async with asyncio.timeout(TIMEOUT):
            output, _ = await process.communicate()
    finally:
        blocker.close()
    assert process.returncode == 2
    assert b"cannot listen on 127.0.0.1" in output and b"what to do" in output


# our client <-> our server, in this process -------------------------------------------


async def test_handrolled_pair_traces_each_frame_and_state_change() -> None:
    server_out, client_out = io.StringIO(), io.StringIO()
    server = await serve(echo, "127.0.0.1", 0, trace=Trace("server", stream=server_out))
    async with asyncio.timeout(TIMEOUT), server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with handrolled_connect(uri, trace=Trace("client", stream=client_out), fragment_size=3) as ws:
            await ws.send("Hello")
            assert await ws.recv() == "Hello"
    client_lines = client_out.getvalue().splitlines()
    assert "> client   TEXT 'Hel'  (fin=0: more fragments follow)" in client_lines
    assert "> client   CONT b'lo'  (fin=1: last fragment)" in client_lines
    assert "< client   TEXT 'Hello'" in client_lines
    assert "= client   OPEN -> CLOSING" in client_lines
    assert "= client   CLOSING -> CLOSED" in client_lines
    assert client_lines[-1] == "= client   TCP connection closed"
    server_lines = server_out.getvalue().splitlines()
    assert "< server   CONT b'lo'  (fin=1: last fragment)" in server_lines
    assert "= server   OPEN -> CLOSED" in server_lines


async def test_server_close_reaches_an_idle_client_as_1001() -> None:
    server = await serve(echo, "127.0.0.1", 0)
    async with asyncio.timeout(TIMEOUT):
        ws = await handrolled_connect(f"ws://127.0.0.1:{server.port}/")
        await server.close()
        received = [message async for message in ws]  # 1001 ends the iteration quietly
        assert received == []
        assert ws.close_code == 1001
        with pytest.raises(ConnectionClosed):
            await ws.send("too late")


async def test_a_slow_handler_gets_every_message_in_order() -> None:
    async def slow_echo(ws) -> None:
        async for message in ws:
            await asyncio.sleep(0.001)
            await ws.send(message)

    server = await serve(slow_echo, "127.0.0.1", 0)
    async with asyncio.timeout(TIMEOUT), server:
        async with handrolled_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            for n in range(300):  # more than the receive queue holds: reading pauses, then resumes
                await ws.send(f"message {n}")
            assert [await ws.recv() for _ in range(300)] == [f"message {n}" for n in range(300)]


async def test_client_reads_a_frame_sent_in_the_same_segment_as_the_101() -> None:
    async def eager_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = parse_request(await reader.readuntil(b"\r\n\r\n"))
        writer.write(build_response(validate_request(head)) + encode(Opcode.TEXT, b"welcome"))
        await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(eager_server, "127.0.0.1", 0)
    async with asyncio.timeout(TIMEOUT), server:
        port = server.sockets[0].getsockname()[1]
        ws = await handrolled_connect(f"ws://127.0.0.1:{port}/", close_timeout=0.5)
        assert await ws.recv() == "welcome"
        ws.transport.close()
        await ws.wait_closed()
