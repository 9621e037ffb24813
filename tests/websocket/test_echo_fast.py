"""The fast echo (echo_fast.py) beside the lesson's echo() handler: the same bytes back.

Two hand-rolled servers, one of each kind, get the same raw client bytes on real
sockets: messages of every kind and size, fragmented ones, pings, several
messages in one write, then an ending (a normal close, a close right behind
messages in the same write, text that is not UTF-8, a protocol error).  What
comes back, byte for byte until the server closes TCP, must be the same.  A last
test shows the fast echo's backpressure: a client that never reads is not
echoed into unbounded memory; the server stops reading instead.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random

import pytest

from learn_websocket.aio import WebSocket
from learn_websocket.echo_fast import EchoWebSocket, wait_for_close
from learn_websocket.frames import Opcode, encode
from learn_websocket.server import echo, serve

pytestmark = pytest.mark.differential

TIMEOUT = 10
HEAD = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + base64.b64encode(b"0123456789abcdef")
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def frame(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    return encode(opcode, payload, fin, os.urandom(4))  # the server's replies do not depend on the mask


def conversation(seed: int) -> list[bytes]:
    """Writes a client makes after the handshake, each one sent once the previous echoes came back."""
    rng = random.Random(seed)
    writes = []
    for _ in range(20):
        pieces = []
        for _ in range(rng.randrange(1, 5)):  # several messages in one write
            size = rng.choice([0, 1, 32, 125, 126, 1000, 70000])
            kind = rng.choice(["text", "binary", "fragmented", "ping"])
            if kind == "text":
                pieces.append(frame(Opcode.TEXT, "é€😀x"[rng.randrange(4)].encode() * (size // 4)))
            elif kind == "binary":
                pieces.append(frame(Opcode.BINARY, rng.randbytes(size)))
            elif kind == "ping":
                pieces.append(frame(Opcode.PING, rng.randbytes(min(size, 125))))
            else:
                text = "ab€".encode() * (size // 5 + 1)
                cut = rng.randrange(1, len(text))  # may split the euro sign across frames
                pieces.append(frame(Opcode.TEXT, text[:cut], fin=False)
                              + frame(Opcode.PING, b"mid") + frame(Opcode.CONT, text[cut:]))
        writes.append(b"".join(pieces))
    return writes


ENDINGS = {
    "close": [frame(Opcode.CLOSE, b"\x03\xe8bye")],
    "messages then close in one write": [frame(Opcode.TEXT, b"late") + frame(Opcode.CLOSE, b"\x03\xe8")
                                         + frame(Opcode.TEXT, b"after")],
    "not utf-8": [frame(Opcode.TEXT, b"ok") + frame(Opcode.TEXT, b"\xff\xfe")],
    "unmasked frame": [encode(Opcode.TEXT, b"naked")],
    "reserved bit": [bytes([0xC1, 0x80]) + os.urandom(4)],
}


async def exchange(port: int, writes: list[bytes], ending: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()
    try:
        async with asyncio.timeout(TIMEOUT):
            writer.write(HEAD)
            received += await reader.readuntil(b"\r\n\r\n")
            for data in writes:
                writer.write(data)
                # Read until this write's replies are all in: what the lesson's echo sent.
                await expect_replies(reader, data, received)
            for data in ending:
                writer.write(data)
            received += await reader.read()  # until the server closes TCP
    finally:
        writer.close()
    return bytes(received)


async def expect_replies(reader: asyncio.StreamReader, sent: bytes, received: bytearray) -> None:
    """Read one reply frame per message and per ping in ``sent`` (an echo or a pong)."""
    wanted = count_replies(sent)
    while wanted:
        head = await reader.readexactly(2)
        length = head[1] & 0x7F
        extra = await reader.readexactly({126: 2, 127: 8}.get(length, 0))
        if extra:
            length = int.from_bytes(extra, "big")
        received += head + extra + await reader.readexactly(length)
        wanted -= 1


def count_replies(data: bytes) -> int:
    count, offset = 0, 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        length, offset = second & 0x7F, offset + 2
        if length in (126, 127):
            size = 2 if length == 126 else 8
            length, offset = int.from_bytes(data[offset:offset + size], "big"), offset + size
        offset += 4 + length
        if first & 0x80:  # a final frame: a whole message, or a ping: one reply each
            count += 1
    return count


async def both(writes: list[bytes], ending: list[bytes]) -> tuple[bytes, bytes]:
    plain = await serve(echo, "127.0.0.1", 0, websocket=WebSocket)
    fast = await serve(wait_for_close, "127.0.0.1", 0, websocket=EchoWebSocket)
    try:
        return (await exchange(plain.port, writes, ending), await exchange(fast.port, writes, ending))
    finally:
        await plain.close()
        await fast.close()


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("seed", [1, 2])
async def test_fast_echo_sends_the_same_bytes_as_the_lesson(seed: int, ending: str) -> None:
    plain, fast = await both(conversation(seed), ENDINGS[ending])
    assert plain.startswith(b"HTTP/1.1 101 ")
    assert b"\x88" in plain[plain.index(b"\r\n\r\n"):]  # it ended with a close frame from the server
    assert fast == plain


async def test_fast_echo_stops_reading_from_a_client_that_does_not_read() -> None:
    fast = await serve(wait_for_close, "127.0.0.1", 0, websocket=EchoWebSocket)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
        writer.write(HEAD)
        await reader.readuntil(b"\r\n\r\n")
        big = frame(Opcode.BINARY, b"x" * 65536)
        sent = 0
        with pytest.raises(TimeoutError):  # our writes stall: the server no longer reads
            async with asyncio.timeout(3):
                while True:
                    writer.write(big)
                    await writer.drain()
                    sent += 1
        (ws,) = fast.connections
        assert ws._reading_paused
        # What the server holds is bounded by the kernel's buffers, not by what we sent.
        assert ws.transport.get_write_buffer_size() < sent * len(big)
        async with asyncio.timeout(TIMEOUT):  # reading again lets everything through
            while sent:
                await expect_replies(reader, big, bytearray())
                sent -= 1
        writer.close()
    finally:
        await fast.close()
