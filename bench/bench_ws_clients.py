"""The lean client every server in the websocket benchmark is driven by.

It does the least a client can: a pre-built masked frame is sent as is, and
replies are read with two buffered reads (header, payload) and no validation.
Whatever it costs, it costs the same against the anchor and against ours.

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
    path = f"/ws?token={token}" if kind == "chat" else "/"
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
            if kind == "chat":
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

async def _open(port: int, kind: str, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(request_head(kind, token))
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def _count(reader: asyncio.StreamReader, marker: bytes, want: int, joined: asyncio.Event) -> None:
    got = 0
    while got < want:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(n)
        if marker in payload:
            got += 1
        elif b'"joined"' in payload:
            joined.set()


async def broadcast_rate(port: int, kind: str, clients: int, messages: int, token: str) -> float:
    """``clients`` connections each receive ``messages`` fanned-out frames; total msg/s."""
    conns = []
    tasks = []
    # The anchor gets a payload as long as the chat's message event, so frames are alike in size.
    text = "bench-msg " + "x" * 22
    marker = b"bench-msg"
    for _ in range(clients):
        reader, writer = await _open(port, kind, token)
        joined = asyncio.Event()
        if kind == "chat":
            writer.write(JOIN)
        else:
            joined.set()
        tasks.append(asyncio.create_task(_count(reader, marker, messages, joined)))
        if kind == "chat":
            await asyncio.wait_for(joined.wait(), 10)
        conns.append(writer)
    sample = json.dumps({"type": "message", "room": ROOM, "from": "bench", "text": text, "id": "0" * 16,
                         "server": "bench"}).encode()
    frame = say(text) if kind == "chat" else masked_frame(sample)
    start = time.perf_counter()
    for _ in range(messages):
        conns[0].write(frame)
    await conns[0].drain()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    elapsed = time.perf_counter() - start
    for writer in conns:
        writer.close()
    return clients * messages / elapsed
