"""What the chat does with an accepted WebSocket: the session loop and one handler per message.

Reading order: schema -> hub -> broker -> app -> **handlers** -> server; then client; then the page.

``app.py`` decides whether a handshake is accepted; then :meth:`Chat.session`
runs until the socket ends (steps 3-5 of ``app.py``'s list): ``welcome``, then
for every text frame ``schema.parse_client_message()`` and the handler for its
type (:meth:`Chat.join`, :meth:`Chat.leave`, :meth:`Chat.say`), then ``left``
in every room the member was in.  A message that is not valid gets an ``error``
reply and the connection stays up.

In the structured trace events the other end (``peer``) is the member's user
name, which is the name the demo's client traces as, and a frame received
carries the connection's Sec-WebSocket-Key (``cid``), as the client's does.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from wirelab_common.wiretrace import Trace, shorten

from . import schema
from .broker import BrokerUnavailable, LocalBroker, RedisBroker
from .hub import Hub, Member


class Chat:
    """The handlers, and what they share: the hub, the broker, the trace."""

    def __init__(self, server_id: str, hub: Hub, broker: LocalBroker | RedisBroker, trace: Trace,
                 trace_messages: bool = True) -> None:
        self.server_id = server_id
        self.hub = hub
        self.broker = broker
        self.trace = trace
        self.trace_messages = trace_messages  # False (--quiet): no line per message is even formatted
        self.message_ids = itertools.count(1)
        self.handlers = {schema.Join: self.join, schema.Leave: self.leave, schema.Say: self.say}

    async def session(self, websocket: Any, user: str, peer: str) -> None:
        """One accepted connection, from ``welcome`` to ``left``."""
        hub = self.hub
        member = self.connect(websocket, user, peer)
        member.key = websocket.headers.get("sec-websocket-key")  # nginx passes the client's through
        self.trace.state(f"{user} OPEN from {peer}")
        hub.send(member, schema.encode(schema.welcome(user, self.server_id)))
        code = 1006
        try:
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    code = frame.get("code", 1005)
                    break
                # ASGI puts a text frame's payload under "text", a binary one's under "bytes".
                text = frame.get("text")
                await self.handle(member, text if text is not None else frame.get("bytes") or b"")
                # Messages that came in one read are handled without waiting, and nothing
                # is sent until we yield.  Let the pumps run before a flood fills anyone's
                # queue, but not after every message (hub.py explains why).
                if hub.backlogged():
                    await asyncio.sleep(0)
        finally:
            rooms = hub.disconnect(member)
            self.trace.state(f"{user} CLOSED from {peer} (code {member.close_code or code})")
            for room in sorted(rooms):
                await self.publish(member, room, schema.left(room, user), reply_errors=False)

    def connect(self, websocket: Any, user: str, peer: str) -> Member:
        """The hub's member for this socket: it sends with ``send_text`` and closes with ``close``."""
        return self.hub.connect(user, peer, websocket.send_text, websocket.close)

    async def handle(self, member: Member, raw: str | bytes) -> None:
        if member.close_code is not None:
            return  # being closed (e.g. a slow consumer): it no longer speaks in any room
        try:
            msg = schema.parse_client_message(raw)
        except schema.SchemaError as exc:
            if self.trace_messages:
                self.trace.received(f"{member.user} invalid: {shorten(raw, 40)!r}", peer=member.user,
                                    cid=member.key)
            return self.reply_error(member, exc.code, exc.detail)
        await self.handlers[type(msg)](member, msg)

    async def join(self, member: Member, msg: schema.Join) -> None:
        if self.trace_messages:
            self.trace.received(f"{member.user} joined {msg.room}", peer=member.user, cid=member.key)
        if self.hub.closing:
            return self.reply_error(member, "unavailable", "server shutting down")
        if not self.hub.join(member, msg.room):
            # Already a member: confirm to this client only, nobody else needs to know.
            return self.hub.send(member, schema.encode(schema.joined(msg.room, member.user)))
        await self.publish(member, msg.room, schema.joined(msg.room, member.user))

    async def leave(self, member: Member, msg: schema.Leave) -> None:
        if self.trace_messages:
            self.trace.received(f"{member.user} left {msg.room}", peer=member.user, cid=member.key)
        if not self.hub.leave(member, msg.room):
            return self.reply_error(member, "not_in_room", f"you are not in {msg.room}")
        self.hub.send(member, schema.encode(schema.left(msg.room, member.user)))
        await self.publish(member, msg.room, schema.left(msg.room, member.user))

    async def say(self, member: Member, msg: schema.Say) -> None:
        if self.trace_messages:
            self.trace.received(f"{member.user} says in {msg.room}: {shorten(msg.text, 40)!r}",
                                peer=member.user, cid=member.key)
        if msg.room not in member.rooms:
            return self.reply_error(member, "not_in_room", f"join {msg.room} before saying anything there")
        message_id = f"{self.server_id}-{next(self.message_ids)}"
        await self.publish(member, msg.room, schema.message(msg.room, member.user, msg.text, message_id,
                                                            self.server_id))

    def reply_error(self, member: Member, code: str, detail: str) -> None:
        if self.trace_messages:
            # No cid: the member's other frames from us are not traced here (hub.deliver), so
            # its key would pair this reply with the wrong frame the client received.
            self.trace.sent(f"{member.user} error {code}: {detail}", peer=member.user)
        self.hub.send(member, schema.encode(schema.error(code, detail)))

    async def publish(self, member: Member, room: str, event: dict[str, str],
                      reply_errors: bool = True) -> None:
        try:
            await self.broker.publish(room, event)
        except BrokerUnavailable as exc:
            if reply_errors:
                self.reply_error(member, "unavailable", str(exc))
