"""The lean clients every server in the websocket benchmark is driven by.

They do the least a client can: a pre-built masked frame is sent as is, and
replies are read without validation: for round trips with two buffered reads
(header, payload), for broadcast by an ``asyncio.Protocol`` that parses every
frame of a chunk in one go.  Whatever they cost, they cost the same against the
anchor and against ours.

Each server kind speaks differently only at the application level:
``tcp`` echoes raw bytes (no handshake), ``chat`` needs a token and a room,
the others echo or fan out frames as they come.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

from wirelab_common.waiting import eventually_async

MASK = b"\x37\xfa\x21\x3d"
PAYLOAD = b"x" * 32
ROOM = "bench"


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final client frame (RFC 6455 section 5.2), masked with a fixed key."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes((MASK * (n // 4 + 1))[:n], "big"))
    return head + MASK + masked.to_bytes(n, "big")


def request_head(kind: str, token: str) -> bytes:
    path = f"/ws?token={token}" if kind.startswith("chat") else "/"
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def say(text: str) -> bytes:
    return masked_frame(json.dumps({"type": "say", "room": ROOM, "text": text}).encode())


JOIN = masked_frame(json.dumps({"type": "join", "room": ROOM}).encode())


# -- blocking round trips -------------------------------------------------

def _read_frame(stream) -> tuple[int, bytes]:
    b0, b1 = stream.read(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(stream.read(2), "big")
    elif n == 127:
        n = int.from_bytes(stream.read(8), "big")
    return b0 & 0x0F, stream.read(n)


def _read_until(stream, marker: bytes) -> bytes:
    while True:
        _opcode, payload = _read_frame(stream)
        if marker in payload:
            return payload


def round_trips(port: int, kind: str, count: int, token: str) -> tuple[float, list[int]]:
    """``count`` sequential request/reply round trips; (round trips/s, latencies in ns)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = sock.makefile("rb", buffering=65536)
    try:
        if kind == "tcp":
            frame = masked_frame(PAYLOAD)

            def exchange() -> None:
                sock.sendall(frame)
                stream.read(len(frame))
        else:
            sock.sendall(request_head(kind, token))
            while stream.readline() not in (b"\r\n", b""):
                pass
            if kind.startswith("chat"):  # "chat", "chat-plain": the chat server either way
                sock.sendall(JOIN)
                _read_until(stream, b'"joined"')
                frame = say(PAYLOAD.decode())

                def exchange() -> None:
                    sock.sendall(frame)
                    _read_until(stream, b'"message"')
            else:
                frame = masked_frame(PAYLOAD)

                def exchange() -> None:
                    sock.sendall(frame)
                    _read_frame(stream)
        for _ in range(min(200, count)):  # warm-up
            exchange()
        latencies = []
        start = time.perf_counter_ns()
        for _ in range(count):
            t0 = time.perf_counter_ns()
            exchange()
            latencies.append(time.perf_counter_ns() - t0)
        elapsed = (time.perf_counter_ns() - start) / 1e9
        return count / elapsed, latencies
    finally:
        stream.close()
        sock.close()


# -- broadcast ---------------------------------------------------------------

BROADCAST_TEXT = "bench-msg " + "x" * 22
MARKER = b"bench-msg"
# The anchor fans out a frame as long as the chat's ``message`` event: the same compact
# JSON, with an id as long as most of the chat's ("bench-100".."bench-999"): 124 B.
ANCHOR_SAMPLE = json.dumps({"type": "message", "room": ROOM, "from": "bench", "text": BROADCAST_TEXT,
                            "id": "bench-000", "server": "bench"}, separators=(",", ":")).encode()


class Listener(asyncio.Protocol):
    """One client connection that only counts what it receives.

    Frames are parsed in bulk from each chunk the socket delivers, with no checks
    and no await per frame: at 1,000 connections the client must cost far less
    than the server it measures, or both sides of the ratio measure the client.
    """

    def __init__(self, audience: Audience) -> None:
        self.audience = audience
        self.buffer = bytearray()
        loop = asyncio.get_running_loop()
        self.upgraded = loop.create_future()  # the 101 response arrived
        self.first_join = loop.create_future()  # chat: the "joined" notice for this client
        self.joins = 0  # chat: "joined" notices seen (its own and those of later joiners)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            del buffer[:end + 4]
            self.upgraded.set_result(None)
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            n = buffer[pos + 1] & 0x7F  # RFC 6455 section 5.2; server frames are unmasked
            head = 2 if n < 126 else 4 if n == 126 else 10
            if size - pos < head:
                break
            if n >= 126:
                n = int.from_bytes(buffer[pos + 2:pos + head], "big")
            start, end = pos + head, pos + head + n
            if end > size:
                break
            if buffer.find(MARKER, start, end) >= 0:
                self.audience.count_one()
            elif buffer.find(b'"joined"', start, end) >= 0:
                self.joins += 1
                if not self.first_join.done():
                    self.first_join.set_result(None)
            pos = end
        del buffer[:pos]


class Audience:
    """``clients`` connections to one server, all in the room (chat) or just connected."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.listeners: list[Listener] = []
        self.received = 0  # marker frames, all listeners together
        self.expected = 0
        self.done: asyncio.Future[None] | None = None

    @classmethod
    async def open(cls, port: int, kind: str, clients: int, token: str) -> Audience:
        audience = cls(kind)
        loop = asyncio.get_running_loop()
        for _ in range(clients):
            _transport, listener = await loop.create_connection(lambda: Listener(audience), "127.0.0.1", port)
            listener.transport.write(request_head(kind, token))
            await asyncio.wait_for(listener.upgraded, 10)
            if kind.startswith("chat"):
                listener.transport.write(JOIN)
                await asyncio.wait_for(listener.first_join, 10)
            audience.listeners.append(listener)
        if kind.startswith("chat"):
            # Each member is told of every later joiner: n(n+1)/2 "joined" notices in
            # all (500,500 for 1,000 clients).  Wait until every one has arrived, so
            # that none is sent or read inside a measured window.
            await eventually_async(
                lambda: all(listener.joins >= clients - i for i, listener in enumerate(audience.listeners)),
                120, "the chat server delivered every joined notice")
        return audience

    def count_one(self) -> None:
        self.received += 1
        if self.received == self.expected and self.done is not None:
            self.done.set_result(None)

    async def window(self, messages: int) -> float:
        """The first client sends ``messages`` frames; msg/s until every client has them all."""
        self.expected = self.received + len(self.listeners) * messages
        self.done = asyncio.get_running_loop().create_future()
        frame = say(BROADCAST_TEXT) if self.kind.startswith("chat") else masked_frame(ANCHOR_SAMPLE)
        sender = self.listeners[0].transport
        start = time.perf_counter()
        for _ in range(messages):
            sender.write(frame)
        await asyncio.wait_for(self.done, 120)
        return len(self.listeners) * messages / (time.perf_counter() - start)

    def close(self) -> None:
        for listener in self.listeners:
            listener.transport.close()
