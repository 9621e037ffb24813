"""Integration tests of the chat server: real server processes on free ports.

Well-behaved clients are ``ChatClient`` or plain ``websockets`` connections.  The
misbehaving ones (a client that stops reading, one that never answers pings) are
:class:`RawPeer`: a WebSocket client written by hand on a bare socket, because the
``websockets`` library is too polite to misbehave (it always reads and always pongs).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
import signal
import socket
import struct

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from learn_websocket.chat.client import ChatClient, backoff_delay
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

OP_CONT, OP_TEXT, OP_CLOSE, OP_PING = 0x0, 0x1, 0x8, 0x9


def quiet(name: str) -> Trace:
    """A client trace kept in memory: floods would bury the test output."""
    return Trace(name, stream=io.StringIO())


class RawPeer:
    """A hand-written WebSocket client (RFC 6455 §4.1 handshake, §5.2 frames) that can misbehave."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, token: str, *, rcvbuf: int | None = None) -> RawPeer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the advertised TCP window is small from the start:
            # a few unread messages then fill the pipe (instead of megabytes).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        # A small limit: the stream stops pulling from the socket when 2 KiB are buffered.
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send_text(self, text: str) -> None:
        await self.send_frame(OP_TEXT, text.encode())

    async def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        """Any frame, e.g. a text frame whose payload is not UTF-8, or a fragment (fin=False)."""
        assert len(payload) < 126
        mask = os.urandom(4)  # clients must mask (§5.3)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + mask + masked)
        await self.writer.drain()

    async def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The next (opcode, payload) from the server, or None at end of stream."""
        try:
            first, second = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None

    def close(self) -> None:
        self.writer.close()


def is_message(text: str | None = None, sender: str | None = None):
    def predicate(m: dict) -> bool:
        return (m["type"] == "message" and (text is None or m["text"] == text)
                and (sender is None or m["from"] == sender))
    return predicate


async def started(server, token: str, name: str, **kwargs) -> ChatClient:
    client = ChatClient(server.ws_url, token, name=name, trace=quiet(name), **kwargs)
    await client.start()
    return client


async def test_two_clients_in_a_room_see_each_others_messages(chat_server):
    server = chat_server()
    alice = await started(server, "alice-token", "alice")
    bob = await started(server, "bob-token", "bob")
    try:
        assert (alice.user, alice.server_id) == ("alice", "s1")
        await alice.join("lobby")
        await bob.join("lobby")
        await alice.say("lobby", "hi bob")
        got = await bob.wait_for(is_message("hi bob"))
        assert got["from"] == "alice" and got["server"] == "s1" and got["room"] == "lobby"
        await bob.say("lobby", "hi alice")
        got = await alice.wait_for(is_message("hi alice"))
        assert got["from"] == "bob" and got["id"].startswith("s1-")
    finally:
        await alice.close()
        await bob.close()


async def test_quiet_server_prints_only_its_ready_line(chat_server):
    server = chat_server("--quiet")
    alice = await started(server, "alice-token", "alice")
    try:
        await alice.join("lobby")
        await alice.say("lobby", "unseen")
        await alice.wait_for(is_message("unseen"))
        await alice.send_raw("not json")
        await alice.wait_for(lambda m: m["type"] == "error")
    finally:
        await alice.close()
    assert await asyncio.to_thread(server.proc.stop) == 0
    lines = [line for line in server.proc.output().splitlines() if line[:2] in ("< ", "> ", "= ", "# ")]
    assert len(lines) == 1 and " listening on http://" in lines[0], lines  # the ready line, nothing else


async def test_invalid_messages_get_an_error_and_the_connection_stays_usable(chat_server):
    server = chat_server()
    alice = await started(server, "alice-token", "alice")
    try:
        cases = [
            ("not json", "bad_json"),
            ("[1, 2]", "bad_json"),
            ('{"type": "shout", "room": "lobby"}', "bad_message"),
            ('{"type": "say", "room": "lobby"}', "bad_message"),
            ('{"type": "join", "room": "Not A Room"}', "bad_message"),
            ('{"type": "join", "room": "lobby", "colour": "red"}', "bad_message"),
            (json.dumps({"type": "say", "room": "lobby", "text": "x" * 2001}), "bad_message"),
            ('{"type": "say", "room": "lobby", "text": "before joining"}', "not_in_room"),
        ]
        for raw, code in cases:
            await alice.send_raw(raw)
            error = await alice.wait_for(lambda m: m["type"] == "error")
            assert error["code"] == code, (raw, error)
        await alice.join("lobby")
        await alice.say("lobby", "still here")
        await alice.wait_for(is_message("still here"))
        assert alice.connects == 1 and alice.state == "OPEN"
    finally:
        await alice.close()


async def test_binary_frames_are_refused_with_an_error(chat_server):
    server = chat_server()
    async with connect(f"{server.ws_url}?token=bob-token", proxy=None) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(b'{"type": "join", "room": "lobby"}')
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["type"] == "error" and error["code"] == "bad_json"


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong"])
async def test_missing_or_unknown_token_is_refused_with_401_before_accept(chat_server, query):
    server = chat_server()
    with pytest.raises(InvalidStatus) as info:
        await connect(server.ws_url + query, proxy=None)
    assert info.value.response.status_code == 401


async def raw_handshake(port: int, headers: str) -> bytes:
    """Send a WebSocket handshake with these header lines over a bare socket; all the server says."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws?token=alice-token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"{headers}\r\n").encode())
    try:
        return await asyncio.wait_for(reader.read(-1), 5)  # a refusal ends with the server's FIN
    finally:
        writer.close()


@pytest.mark.parametrize("version", [["8"], [], ["13", "8"]], ids=["8", "missing", "13-and-8"])
async def test_unsupported_websocket_version_gets_426_naming_version_13(chat_server, version):
    server = chat_server()
    answer = await raw_handshake(server.port, "".join(f"Sec-WebSocket-Version: {v}\r\n" for v in version))
    head = answer.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    assert head[0] == "HTTP/1.1 426 Upgrade Required", answer
    assert "Sec-WebSocket-Version: 13" in head[1:], answer  # RFC 6455 §4.4: MUST say what we speak
    await asyncio.to_thread(server.proc.wait_line, r"rejected .*: HTTP 426")
    # Version 13 still opens.
    peer = await RawPeer.open(server.port, "alice-token")
    assert (await peer.read_frame())[0] == OP_TEXT  # welcome
    peer.close()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_token_in_authorization_bearer_header_is_accepted(chat_server, scheme):
    server = chat_server()
    async with connect(server.ws_url, additional_headers={"Authorization": f"{scheme} bob-token"},
                       proxy=None) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (welcome["type"], welcome["user"]) == ("welcome", "bob")


@pytest.mark.parametrize("authorization", ["Bearer wrong", "Basic Ym9iOmJvYi10b2tlbg==", "Bearer"])
async def test_a_bad_authorization_header_is_refused_even_with_a_good_query_token(chat_server, authorization):
    server = chat_server()
    with pytest.raises(InvalidStatus) as info:
        # When the header is there, it is the credential; the query is not a fallback.
        await connect(f"{server.ws_url}?token=alice-token", proxy=None,
                      additional_headers={"Authorization": authorization})
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token, origin, status", [("nope", None, 401),
                                                   ("alice-token", "http://evil.example", 403)])
async def test_chat_client_does_not_retry_after_a_4xx(chat_server, token, origin, status):
    server = chat_server()
    client = ChatClient(server.ws_url, token, name="mallory", trace=quiet("mallory"), backoff_base=0.01,
                        origin=origin)
    with pytest.raises(InvalidStatus) as info:
        await client.start()
    assert info.value.response.status_code == status
    await asyncio.sleep(0.3)
    assert (client.state, client.connects, client.delays) == ("CLOSED", 0, [])


async def test_foreign_origin_is_refused_with_403_and_own_origin_accepted(chat_server):
    server = chat_server()
    with pytest.raises(InvalidStatus) as info:
        await connect(f"{server.ws_url}?token=alice-token", origin="http://evil.example", proxy=None)
    assert info.value.response.status_code == 403
    async with connect(f"{server.ws_url}?token=alice-token", origin=server.http_url, proxy=None) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"


@pytest.mark.parametrize("path", [[], ["--plain"]], ids=["fast", "plain"])
async def test_slow_consumer_is_disconnected_while_the_room_keeps_flowing(chat_server, path):
    server = chat_server("--queue-size", "8", *path)  # fast.py's path, or the lesson's alone (--plain)
    slow = await RawPeer.open(server.port, "carol-token", rcvbuf=4096)
    await slow.send_text('{"type":"join","room":"flood"}')
    await asyncio.to_thread(server.proc.wait_line, r"carol joined flood")
    fast = await started(server, "alice-token", "alice")
    try:
        await fast.join("flood")
        # Loopback TCP lets the kernel buffer ~4 MB for an unread socket, so the flood
        # must be bigger: 600 messages of 1990 four-byte characters are ~4.8 MB.
        count, filler = 600, "\U0001F4AC" * 1990
        for i in range(count):
            await fast.say("flood", f"{i:04d} {filler}")
        got = [(await fast.wait_for(is_message(sender="alice")))["text"][:4] for _ in range(count)]
        assert got == [f"{i:04d}" for i in range(count)]  # everything, in order
        assert fast.connects == 1 and fast.state == "OPEN"
        await asyncio.to_thread(server.proc.wait_line, r"carol slow consumer: .* close 4008")

        # Now the slow peer reads: what was in flight, then the close frame (TCP keeps order).
        frames = []
        while (frame := await slow.read_frame()) is not None:
            frames.append(frame)
            if frame[0] == OP_CLOSE:
                break
        texts = [payload for op, payload in frames if op == OP_TEXT]
        op, payload = frames[-1]
        assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 4008
        assert len(texts) < count  # it missed the rest, instead of holding up the room
    finally:
        slow.close()
        await fast.close()


async def test_peer_that_never_answers_pings_is_dropped_within_the_heartbeat_bound(chat_server):
    interval, timeout = 0.5, 0.5
    server = chat_server("--ping-interval", str(interval), "--ping-timeout", str(timeout))
    good = await started(server, "bob-token", "bob")  # websockets answers pings by itself
    dead = await RawPeer.open(server.port, "carol-token")  # reads, but never sends a pong
    loop = asyncio.get_running_loop()
    start = loop.time()
    frames = []
    while (frame := await dead.read_frame(timeout=5)) is not None:
        frames.append(frame)
    elapsed = loop.time() - start
    dead.close()
    opcodes = [op for op, _ in frames]
    assert OP_PING in opcodes
    assert opcodes[-1] == OP_CLOSE and struct.unpack("!H", frames[-1][1][:2])[0] == 1011
    assert interval + timeout - 0.2 <= elapsed <= interval + timeout + 1.0, elapsed
    await asyncio.to_thread(server.proc.wait_line, r"sent no pong within")
    await asyncio.sleep(interval * 2)  # several more ping rounds
    assert good.state == "OPEN" and good.connects == 1
    await good.close()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_sigterm_closes_every_client_with_1001_and_exits_0(chat_server, loop):
    server = chat_server("--loop", loop, "--verbose")
    alice = await started(server, "alice-token", "alice", backoff_base=5.0)
    await alice.join("lobby")
    async with connect(f"{server.ws_url}?token=bob-token", proxy=None) as bob:
        await bob.recv()
        server.proc.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(bob.recv(), 5)
        assert bob.close_code == 1001
    code = await asyncio.to_thread(server.proc.popen.wait, 10)
    assert code == 0, server.proc.output()
    assert alice.last_close == (1001, "server shutting down")
    assert "closing 2 client(s) with 1001 going away" in server.proc.output()
    assert f"event loop: {loop}" in server.proc.output()
    await alice.close()


async def test_client_reconnects_with_backoff_and_rejoins_after_a_restart(chat_server):
    first = chat_server(server_id="s1")
    port = first.port  # the restart takes the same port: alice's client knows only that URL
    base, cap, seed = 0.05, 0.4, 7
    alice = await started(first, "alice-token", "alice", backoff_base=base, backoff_max=cap,
                          rng=random.Random(seed))
    await alice.join("lobby")
    assert alice.server_id == "s1"

    await asyncio.to_thread(first.proc.stop)
    await asyncio.sleep(0.5)  # alice now retries against a closed port, backing off
    second = await asyncio.to_thread(chat_server, server_id="s2", port=port)
    await alice.wait_for(lambda m: m["type"] == "welcome" and m["server"] == "s2", timeout=10)
    await alice.wait_for(lambda m: m["type"] == "joined" and m["user"] == "alice")  # the rejoin
    assert (alice.server_id, alice.connects, alice.rooms) == ("s2", 2, {"lobby"})
    assert alice.last_close == (1001, "server shutting down")
    rng = random.Random(seed)
    assert alice.delays == [backoff_delay(n, base, cap, rng) for n in range(len(alice.delays))]
    assert len(alice.delays) >= 2

    bob = await started(second, "bob-token", "bob")
    try:
        await bob.join("lobby")
        await bob.say("lobby", "welcome back")
        got = await alice.wait_for(is_message("welcome back"))
        assert got["server"] == "s2"
    finally:
        await bob.close()
        await alice.close()


async def test_invalid_utf8_text_frames_cost_one_log_line_each_and_others_keep_chatting(chat_server):
    server = chat_server()
    bob = await started(server, "bob-token", "bob")
    try:
        await bob.join("lobby")
        # Whole frames and a fragmented message, each invalid UTF-8 (RFC 6455 §8.1).
        bad = [[(OP_TEXT, b"\xff\xfe", True)], [(OP_TEXT, b'{"text": "caf\xe9"}', True)],
               [(OP_TEXT, b"\xe2\x82", False), (OP_CONT, b"(", True)], [(OP_TEXT, b"\xc0\xaf", True)],
               [(OP_TEXT, b"\xed\xa0\x80", True)]]  # a UTF-16 surrogate, which UTF-8 forbids
        for frames in bad:
            peer = await RawPeer.open(server.port, "carol-token")
            assert (await peer.read_frame())[0] == OP_TEXT  # welcome
            for opcode, payload, fin in frames:
                await peer.send_frame(opcode, payload, fin)
            op, payload = await peer.read_frame()
            assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 1007
            assert await peer.read_frame() is None  # and the server dropped TCP (§7.1.7)
            peer.close()
            await bob.say("lobby", "still here")  # the server keeps serving everyone else
            await bob.wait_for(is_message("still here"))
        # A fragmented message that is valid UTF-8 still gets through.
        peer = await RawPeer.open(server.port, "carol-token")
        await peer.read_frame()
        await peer.send_frame(OP_TEXT, b'{"type": "join", ', fin=False)
        await peer.send_frame(OP_CONT, b'"room": "lobby"}')
        await bob.wait_for(lambda m: m["type"] == "joined" and m["user"] == "carol")
        peer.close()
        assert bob.connects == 1 and bob.state == "OPEN"
    finally:
        await bob.close()
    await asyncio.to_thread(server.proc.wait_line, r"carol CLOSED from .*\(code 100[56]\)")
    output = server.proc.output()
    lines = [line for line in output.splitlines() if "invalid UTF-8" in line]
    assert len(lines) == len(bad), output
    assert all(" sent invalid UTF-8 " in line and line.endswith("-> close 1007") and len(line) < 120
               for line in lines), lines
    assert "Traceback" not in output and "UnicodeDecodeError" not in output, output
