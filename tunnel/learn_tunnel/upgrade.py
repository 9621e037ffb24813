"""A WebSocket through the tunnel: the upgrade as a stream, each message as one DATA frame.

Reading order: relay / agent -> **upgrade** -> socket_mode -> socket_hub -> socket_agent -> demo.

A public client asks the relay for a WebSocket on a tunnel's URL.  The relay
opens a stream whose head says ``"upgrade": "websocket"`` (with the offered
subprotocols) and *waits* before accepting: the agent opens a WebSocket to the
local app with the real ``websockets`` client and answers ``HEADERS
{"status": 101, "subprotocol": ...}``, or the status the app gave.  Only then
does the relay accept the public client, with the same subprotocol.

From there each message is one ``DATA`` frame whose first byte says text
(``T``) or binary (``B``); flow control works as for bodies (the receiver
acknowledges a message once it passed it on).  A message that does not fit
one frame is refused with close code 1009.  ``END_STREAM`` carries the close:
its payload is ``C`` + the close code (2 bytes) + the reason.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from websockets.exceptions import ConnectionClosed

from .frames import MAX_FRAME_SIZE, ErrorCode
from .mux import DataReceived, StreamReset
from .session import SessionGone

TEXT, BINARY, CLOSE = b"T", b"B", b"C"
MAX_MESSAGE = MAX_FRAME_SIZE - 1


def encode_message(message: str | bytes) -> bytes:
    if isinstance(message, str):
        return TEXT + message.encode()
    return BINARY + message


def decode_message(payload: bytes) -> str | bytes:
    kind, body = payload[:1], payload[1:]
    if kind == TEXT:
        return body.decode()
    if kind == BINARY:
        return body
    raise ValueError(f"not a message: {payload[:8]!r}")


def encode_close(code: int, reason: str) -> bytes:
    return CLOSE + struct.pack("!H", code) + reason.encode()[:120]


def decode_close(payload: bytes) -> tuple[int, str]:
    if payload[:1] != CLOSE or len(payload) < 3:
        return 1000, ""
    return struct.unpack("!H", payload[1:3])[0], payload[3:].decode(errors="replace")


def too_big(message: str | bytes) -> bool:
    return len(encode_message(message)) - 1 > MAX_MESSAGE


async def first_done(*aws: Any) -> None:
    """Run the two pumps until one ends (that side closed), then stop the other."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:  # a bug in a pump must not pass for a quiet close
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()


# -- the relay's side: the public client <-> the stream ------------------------------------------


async def client_to_stream(session: Any, stream_id: int, receive: Any, send: Any) -> None:
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                close = encode_close(message.get("code", 1000), message.get("reason") or "")
                await session.send_body(stream_id, close, end_stream=True)
                return
            data = message["text"] if message.get("text") is not None else message.get("bytes", b"")
            if too_big(data):
                await session.reset(stream_id, ErrorCode.CANCEL, "message too big")
                await send({"type": "websocket.close", "code": 1009})
                return
            await session.send_body(stream_id, encode_message(data))
    except SessionGone:
        await send({"type": "websocket.close", "code": 1011})


async def stream_to_client(session: Any, stream_id: int, send: Any) -> None:
    try:
        while True:
            event = await session.next_event(stream_id)
            if isinstance(event, StreamReset):
                await send({"type": "websocket.close", "code": 1011})
                return
            if isinstance(event, DataReceived) and event.end_stream:
                code, reason = decode_close(event.data)
                await send({"type": "websocket.close", "code": code, "reason": reason})
                return
            if isinstance(event, DataReceived):
                message = decode_message(event.data)
                key = "text" if isinstance(message, str) else "bytes"
                await send({"type": "websocket.send", key: message})
                await session.acknowledge(stream_id, len(event.data))
    except SessionGone:
        await send({"type": "websocket.close", "code": 1011})


# -- the agent's side: the stream <-> the local app's WebSocket ----------------------------------


async def local_to_stream(session: Any, stream_id: int, local: Any) -> None:
    try:
        async for message in local:
            if too_big(message):
                await local.close(1009, "too big for one tunnel frame")
                break
            await session.send_body(stream_id, encode_message(message))
    except ConnectionClosed:
        pass
    code = local.close_code if local.close_code not in (None, 1005, 1006) else 1000  # not sendable
    close = encode_close(code, local.close_reason or "")
    await session.send_body(stream_id, close, end_stream=True)


async def stream_to_local(session: Any, stream_id: int, local: Any) -> None:
    while True:
        event = await session.next_event(stream_id)
        if isinstance(event, StreamReset):
            await local.close(1001, "the public client went away")
            return
        if isinstance(event, DataReceived) and event.end_stream:
            code, reason = decode_close(event.data)
            await local.close(code if code not in (1005, 1006) else 1000, reason)
            return
        if isinstance(event, DataReceived):
            await local.send(decode_message(event.data))
            await session.acknowledge(stream_id, len(event.data))
