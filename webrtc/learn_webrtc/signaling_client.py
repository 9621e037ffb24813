"""The signaling client: one WebSocket to the signaling server, JSON in and out, traced.

Reading order: signaling -> signaling_server -> **signaling_client** -> peer -> ...

A thin layer on the ``websockets`` library (17: ``websockets.asyncio.client``):
``send(message)`` and ``recv()`` move dicts; every message is traced as
``> name  {...}`` / ``< name  {...}`` with SDP bodies shortened (``-v`` shows them).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wirelab_common.wiretrace import Trace

from .signaling import MAX_FRAME, summary, user_agent

SERVER = "signal"  # the signaling server's actor name in its own trace (signaling_server.py)


class SignalingClient:
    """``await SignalingClient.open(url, trace)``, then ``join``, ``send``, ``recv``, ``close``."""

    def __init__(self, ws: ClientConnection, trace: Trace) -> None:
        self.ws = ws
        self.trace = trace
        self.peer_id: str | None = None
        # Signaling messages carry no id: the structured events number them on this connection,
        # c1, c2 ... ours, s1, s2 ... the server's, as the server does (signaling_server.py).
        self.sent_count = self.received_count = 0

    @classmethod
    async def open(cls, url: str, trace: Trace) -> SignalingClient:
        ws = await connect(url, open_timeout=10, max_size=MAX_FRAME,
                           user_agent_header=user_agent(trace.actor))
        trace.state(f"signaling connected to {url}")
        return cls(ws, trace)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent_count += 1
        self.trace.sent(f"signal {summary(message)}", message.get("sdp", "").splitlines(), peer=SERVER,
                        cid=f"c{self.sent_count}")
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; ConnectionClosed when the server closed; TimeoutError after ``timeout``."""
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        message = json.loads(text)
        self.received_count += 1
        self.trace.received(f"signal {summary(message)}", message.get("sdp", "").splitlines(), peer=SERVER,
                            cid=f"s{self.received_count}")
        return message

    async def join(self, room: str, timeout: float = 10.0) -> dict[str, Any]:
        """Join ``room``; returns the ``joined`` message or raises RuntimeError with the error."""
        await self.send({"type": "join", "room": room})
        reply = await self.recv(timeout)
        if reply.get("type") != "joined":
            raise RuntimeError(f"could not join {room!r}: {reply}")
        self.peer_id = reply["peer"]
        return reply

    async def close(self) -> None:
        try:
            await self.ws.close()
        except ConnectionClosed:
            pass
