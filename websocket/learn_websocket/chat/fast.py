"""Beside the lesson: the chat's shorter path per message, what the server runs by default.

Reading order: after ``hub.py``, ``handlers.py`` and ``server.py``, whose rules this keeps.

Two hand-offs per message cost more than they buy in the common case, a client
that keeps up.  Both are cut here, and a burst costs one write per socket;
``--plain`` (``Settings.fast=False``) runs the lesson alone, and
``tests/websocket/test_chat_fast.py`` holds the two to the same messages in the
same order, and to the same 4008 for a reader that stops.

**Writing.**  In ``hub.py`` every message goes through the member's bounded queue
and its pump task: ``put_nowait``, wake the pump, ``get``, ``send``.  When the
queue is empty and the socket's send buffer has room, the pump would send the
message at once; the hand-off costs a task wake-up per message per member.  So
:class:`DirectMember` writes such a message itself, synchronously, and queues it
otherwise::

    offer(text)
      |-- not closing, pump idle, queue empty, write_now(text) -> True: written
      '-- otherwise: Member.offer(text)  (the lesson: queue, or report full -> 4008)

Order is kept: a message is written directly only when nothing is queued before it
and the pump is not in the middle of a send.  The backpressure lesson is kept: once
the transport's buffer passes its high-water mark (``pause_writing``), ``write_now``
refuses, messages queue behind it as in the lesson, and a member whose queue fills
is closed with 4008.

``write_now`` is not ASGI's ``send`` (a coroutine, which the synchronous
``deliver`` cannot call): it is a plain function that the chat's own uvicorn
protocol (``server.py``, ``ChatWebSocketProtocol.write_text_now``) puts in the ASGI
scope's ``extensions`` under :data:`WRITE_NOW`, the place the ASGI spec gives
servers for extras.  Under a server without it, :class:`DirectChat` falls back to
the lesson's :class:`~.hub.Member`.

**One write per burst.**  ``write_now`` frames the message into the connection's
outgoing bytes and hands them to the transport once the current callback is over
(``loop.call_soon``), or at once after :data:`FLUSH_EVERY` messages: messages
delivered in one go (a burst read in one ``data_received``, a room's fan-out of
it) cost one ``write`` system call per socket, where the pump and
``websockets.broadcast`` write each message on its own.  Every other write (a
pumped ``send``, the close frame, a ping) takes the same bytes first, in order.

**Reading.**  uvicorn stops reading a socket after every message until the app
has taken it (``pause_reading``, then ``resume_reading`` in ``receive()``): two
calls into the event loop per message.  The fast path lets :data:`READ_AHEAD` text
messages wait for the app before it pauses: input stays bounded, by 16 messages
(of at most 64 KiB) instead of one, plus whatever else arrived in the same read.

**A say, parsed and answered in fewer steps.**  With ``--quiet`` and no Redis
(:class:`~.broker.LocalBroker`), a ``say`` that is valid in every respect takes
:func:`parse_say` and :func:`message_text` instead of ``schema.py``'s
``parse_client_message`` and ``encode``: the JSON is scanned by the json
module's scanner (the C function under ``json.loads``) without its Python
layers, and the reply is built from quoted fields (the json module's string
encoder, the one ``schema.encode`` uses) instead of encoding a whole dict.
Anything else, an invalid message, a room the member is not in, goes to the
lesson's ``handle``, which gives the same answer it always did.
``tests/websocket/test_chat_schema_fast.py`` holds both functions to
``schema.py``: the same replies byte for byte, and nothing accepted that
``parse_client_message`` refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Set
from typing import Any

from .broker import LocalBroker
from .handlers import Chat
from .hub import CloseSocket, Hub, Member, SendText
from .schema import MAX_TEXT

WRITE_NOW = "wirelab.write_text_now"  # scope["extensions"][WRITE_NOW]["write"]: text -> bool
READ_AHEAD = 16  # messages a connection may have waiting for the app before reading pauses
FLUSH_EVERY = 64  # direct writes to one socket gathered into one transport write, at most

WriteNow = Callable[[str], bool]  # True: written to the transport; False: would have to wait

_scan = json.JSONDecoder().scan_once  # what json.loads runs, minus the whitespace and type checks
_quote = json.encoder.encode_basestring  # a JSON string, non-ASCII kept (ensure_ascii=False)


def parse_say(raw: str | bytes, rooms: Set[str]) -> tuple[str, str] | None:
    """``(room, text)`` of a valid ``say`` to one of ``rooms``; None for anything else.

    None does not mean invalid: the lesson's parser decides (a ``say`` with spaces
    around its JSON, a ``join``, a bad message).  Every room in ``rooms`` was
    joined through ``schema.py``, so it already matches the room pattern.
    """
    if type(raw) is not str or raw[:1] != "{":
        return None
    try:
        data, end = _scan(raw, 0)
    except (StopIteration, ValueError):  # the scanner's "no JSON value here", a bad string or number
        return None
    if end != len(raw) or len(data) != 3 or data.get("type") != "say":
        return None
    room, text = data.get("room"), data.get("text")
    if type(text) is not str or not 1 <= len(text) <= MAX_TEXT or type(room) is not str or room not in rooms:
        return None
    return room, text


def message_text(room: str, sender: str, text: str, message_id: str, server: str) -> str:
    """``schema.encode(schema.message(...))``, built from quoted fields."""
    return (f'{{"type":"message","room":{_quote(room)},"from":{_quote(sender)},"text":{_quote(text)},'
            f'"id":{_quote(message_id)},"server":{_quote(server)}}}')


class DirectMember(Member):
    """A :class:`~.hub.Member` that writes at once while its outbox is empty."""

    def __init__(self, user: str, peer: str, send: SendText, close: CloseSocket, queue_size: int,
                 write_now: WriteNow) -> None:
        self._write_now = write_now
        self._socket_send = send
        self._pump_sending = False  # the pump took a message and has not finished sending it
        super().__init__(user, peer, self._pump_send, close, queue_size)

    def offer(self, text: str) -> bool:
        if (self.close_code is None and not self._pump_sending and self.queue.empty()
                and self._write_now(text)):
            return True
        return super().offer(text)

    async def _pump_send(self, text: str) -> None:
        self._pump_sending = True
        try:
            await self._socket_send(text)
        finally:
            self._pump_sending = False


class DirectHub(Hub):
    """A :class:`~.hub.Hub` whose members may be :class:`DirectMember`."""

    def connect_direct(self, user: str, peer: str, send: SendText, close: CloseSocket,
                       write_now: WriteNow) -> Member:
        member = DirectMember(user, peer, send, close, self.queue_size, write_now)
        self.members.add(member)
        return member


class DirectChat(Chat):
    """The chat's handlers, with members that write directly when the server offers it."""

    hub: DirectHub

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without a trace line per message and without Redis, a say is a deliver() to the hub.
        self.quick_say = not self.trace_messages and type(self.broker) is LocalBroker

    async def handle(self, member: Member, raw: str | bytes) -> None:
        said = parse_say(raw, member.rooms) if self.quick_say and member.close_code is None else None
        if said is None:
            return await super().handle(member, raw)
        room, text = said
        message_id = f"{self.server_id}-{next(self.message_ids)}"
        self.hub.deliver(room, message_text(room, member.user, text, message_id, self.server_id))

    def connect(self, websocket: Any, user: str, peer: str) -> Member:
        extension = websocket.scope.get("extensions", {}).get(WRITE_NOW)
        if extension is None:
            return super().connect(websocket, user, peer)
        return self.hub.connect_direct(user, peer, websocket.send_text, websocket.close, extension["write"])
