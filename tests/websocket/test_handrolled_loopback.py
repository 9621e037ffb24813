"""The hand-rolled server and client against each other, raw sockets and the CLI (all ours, on 127.0.0.1).

(c) our CLI client process against our server process;
(d) bad handshakes (garbage, wrong version) and protocol errors, after which the
    server still serves the next client;
(e) our client and our server in this process, traced.
"""

from __future__ import annotations

import asyncio
import io
import sys

import pytest

from learn_websocket.aio import ConnectionClosed
from learn_websocket.client import connect as handrolled_connect
from learn_websocket.frames import Opcode, encode
from learn_websocket.handshake import build_response, parse_request, validate_request
from learn_websocket.server import echo, serve
from wirelab_common.ports import free_port
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


TIMEOUT = 10


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


async def run_cli_client(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "learn_websocket.client", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(TIMEOUT + 5):
        output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_cli_client_against_the_server_process_exits_0(echo_server) -> None:
    _, uri = echo_server()
    code, output = await run_cli_client("--url", uri, "--send", "hello", "--send", "wörld", "--ping", "-v")
    assert code == 0, output
    assert "> client   TEXT 'wörld'" in output
    assert "Sec-WebSocket-Accept:" in output  # -v shows the handshake headers
    assert "all 2 echo(es) matched, ping answered" in output


async def test_cli_client_exits_1_when_the_echo_is_wrong() -> None:
    async def shout(ws) -> None:
        async for message in ws:
            await ws.send(message.upper())

    async with await serve(shout, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        code, output = await run_cli_client("--url", url, "--send", "quiet please")
    assert code == 1, output
    assert "FAILED: sent 'quiet please' but the server echoed 'QUIET PLEASE'" in output


async def test_cli_client_exits_2_with_a_hint_when_nothing_listens() -> None:
    code, output = await run_cli_client("--url", f"ws://127.0.0.1:{free_port()}/")
    assert code == 2, output
    assert "start a server" in output


async def test_garbage_gets_400_and_the_server_keeps_serving(echo_server) -> None:
    proc, uri = echo_server()
    answer = await raw_exchange(uri, b"HELLO? IS THIS FTP?\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"not an HTTP request line" in answer
    async with asyncio.timeout(TIMEOUT), handrolled_connect(uri) as ws:
        await ws.send("after the garbage")
        assert await ws.recv() == "after the garbage"
    proc.wait_line("HTTP 400: not an HTTP request line", timeout=5)


async def test_wrong_version_gets_426_naming_version_13(echo_server) -> None:
    _, uri = echo_server()
    answer = await raw_exchange(uri, good_request(uri, version="8"))
    assert answer.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer


async def test_unmasked_client_frame_is_closed_with_1002_and_the_server_keeps_serving(echo_server) -> None:
    proc, uri = echo_server()
    answer = await raw_exchange(uri, good_request(uri) + encode(Opcode.TEXT, b"not masked"))
    head, _, frames = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert frames[:4] == bytes([0x88, frames[1], 0x03, 0xEA])  # CLOSE 1002 (§7.4.1)
    async with asyncio.timeout(TIMEOUT), handrolled_connect(uri) as ws:
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


async def test_the_echo_server_runs_on_the_lessons_frame_parser_too(echo_server) -> None:
    proc, uri = echo_server("--parser", "plain")
    code, output = await run_cli_client("--url", uri, "--send", "read by frames.py", "--ping")
    assert code == 0, output + proc.output()
