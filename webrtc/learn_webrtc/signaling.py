"""The signaling protocol: JSON messages and the room state machine, with no I/O.

Reading order: **signaling** -> signaling_server -> signaling_client -> peer -> ...

WebRTC leaves signaling to the application (RFC 8825 §3, JSEP RFC 8829 §3):
two peers must swap an offer, an answer and their ICE candidates *somehow*
before they can reach each other directly.  Here "somehow" is a WebSocket
server with rooms of at most two peers, and this module is all of its rules.
The server (``signaling_server.py``) only moves text in and out of it.

Messages, one JSON object per WebSocket text message::

    client -> server
      {"type": "join", "room": "lobby"}                       enter a room (once)
      {"type": "offer",  "sdp": "v=0..."}                     relayed to the other peer
      {"type": "answer", "sdp": "v=0..."}                     relayed
      {"type": "candidate", "candidate": "candidate:1 1 udp ...",
       "sdpMid": "0", "sdpMLineIndex": 0}                     one trickled ICE candidate, relayed;
      {"type": "candidate", "candidate": null}                null: end of candidates (RFC 8838 §13)
      {"type": "bye"}                                         leave the room, relayed as peer-left
    server -> client
      {"type": "joined", "room": "lobby", "peer": "p1", "peers": ["p0"]}   you are in; who is there
      {"type": "peer-joined", "peer": "p1"}                   the other peer arrived: *you* offer
      {"type": "peer-left", "peer": "p1"}                     the other peer left or disconnected
      {"type": "error", "code": "room-full", "reason": "..."} see ERRORS
      offer / answer / candidate from the other peer, with "from": "p0" added

One connection's states (``TRANSITIONS``; events are the message types, and
``room-full`` is the server refusing a join; a disconnect, in any state, just
forgets the connection)::

    CONNECTED --join-->      JOINED
    CONNECTED --room-full--> GONE
    JOINED    --offer-->     JOINED
    JOINED    --answer-->    JOINED
    JOINED    --candidate--> JOINED
    JOINED    --bye-->       GONE

A message its state does not accept is answered with ``not-joined`` (before a
join, or after bye) or ``already-joined`` (a second join).

Who offers: the peer that was already in the room, when ``peer-joined``
arrives.  A fixed rule avoids "glare" (both peers offering at once).

Only the fields listed above are relayed; anything else in a message is
dropped, so the other peer gets exactly the documented format.

Errors.  A malformed or out-of-order message gets an ``error`` reply and the
connection stays open (the client may have a bug in one message, not in all);
a third peer gets ``room-full`` and is closed with code 4003 (WebSocket codes
4000-4999 are the application's, RFC 6455 §7.4.2).  (Rooms hold ROOM_SIZE = 2
peers; the server's ``--room-size`` changes that, only so that the demo can
show its room-full check failing.)  The server also closes a
connection that sends a binary frame, with 1003 (unsupported data, §7.4.1).

Size.  A message over MAX_MESSAGE (64 KiB) gets ``too-big`` and the connection
stays open; one over MAX_FRAME (256 KiB) is not even read: the WebSocket layer
closes the connection with 1009 (message too big, §7.4.1), so a client cannot
make the server buffer megabytes.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from wirelab_common.state_table import BadTransition, StateTable
from wirelab_common.wiretrace import shorten

ROOM_SIZE = 2
MAX_MESSAGE = 64 * 1024  # an SDP with many candidates is a few KiB; refuse megabytes
MAX_FRAME = 4 * MAX_MESSAGE  # above this the WebSocket layer closes with 1009 before we see it
ROOM_FULL_CLOSE = 4003

# code -> what it means; every error the server sends is one of these.
ERRORS = {
    "bad-json": "the message is not a JSON object",
    "bad-message": "unknown type, or a field is missing or has the wrong type",
    "too-big": f"the message is larger than {MAX_MESSAGE} bytes",
    "not-joined": "join a room before sending offer/answer/candidate/bye",
    "already-joined": "a connection joins one room, once",
    "room-full": f"the room already has {ROOM_SIZE} peers (connection closed with {ROOM_FULL_CLOSE})",
    "no-peer": "nobody else is in the room to receive it",
}

# type -> required fields and their types (None allowed where listed in NULLABLE).
CLIENT_MESSAGES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "join": {"room": str},
    "offer": {"sdp": str},
    "answer": {"sdp": str},
    "candidate": {"candidate": str},
    "bye": {},
}
NULLABLE = {("candidate", "candidate")}
OPTIONAL = {"candidate": {"sdpMid": str, "sdpMLineIndex": int, "usernameFragment": str}}
RELAYED = ("offer", "answer", "candidate")


class SignalingError(Exception):
    """A message the server refuses; ``code`` is a key of ERRORS."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or ERRORS[code]}")
        self.code = code
        self.detail = detail or ERRORS[code]


def parse_message(text: str) -> dict[str, Any]:
    """Check one client message against CLIENT_MESSAGES; return it as a dict."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE:
        raise SignalingError("too-big")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested thousands deep
        raise SignalingError("bad-json") from None
    if not isinstance(message, dict):
        raise SignalingError("bad-json")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:
        what = "no \"type\" field" if kind is None else f"unknown type {kind!r}"
        raise SignalingError("bad-message", f"{what}; expected one of {sorted(CLIENT_MESSAGES)}")
    for name, expected in CLIENT_MESSAGES[kind].items():
        value = message.get(name)
        if value is None and (kind, name) in NULLABLE and name in message:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SignalingError("bad-message", f"{kind}: field {name!r} must be {expected.__name__}")
    for name, expected in OPTIONAL.get(kind, {}).items():
        value = message.get(name)
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            raise SignalingError("bad-message", f"{kind}: field {name!r} must be {expected.__name__}")
    if kind == "join" and not (1 <= len(message["room"]) <= 64):
        raise SignalingError("bad-message", "join: room must be 1-64 characters")
    known = {"type", *CLIENT_MESSAGES[kind], *OPTIONAL.get(kind, {})}
    return {name: value for name, value in message.items() if name in known}


def summary(message: dict[str, Any], width: int = 100) -> str:
    """One trace line for a message: SDP bodies as ``<798 chars>`` (``-v`` prints them in full)."""
    shown = {k: (f"<{len(v)} chars>" if k == "sdp" and isinstance(v, str) else v) for k, v in message.items()}
    return shorten(json.dumps(shown), width)


def describe(text: str, width: int = 100) -> str:
    """One trace line for a received text, whatever it is (the trace must not fail on bad input)."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        message = None
    return summary(message, width) if isinstance(message, dict) else shorten(text, min(width, 80))


def user_agent(actor: str) -> str:
    """The ``User-Agent`` of our WebSocket handshakes: the trace's actor name first (a product
    token, RFC 9110 §10.1.5), so the server names us in its events as we name ourselves."""
    return f"{actor or 'peer'} (learn_webrtc)"


def agent_name(header: str | None) -> str | None:
    """The first product token of a ``User-Agent``: ``alice`` for ``alice (learn_webrtc)``."""
    words = (header or "").replace("/", " ").split()
    return words[0] if words else None


def error_message(code: str, detail: str = "") -> dict[str, Any]:
    return {"type": "error", "code": code, "reason": detail or ERRORS[code]}


# What the driver must do: send a message to a peer, or close its connection.
@dataclass(frozen=True)
class Send:
    peer: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Close:
    peer: str
    code: int
    reason: str


class PeerState(enum.Enum):
    CONNECTED = "CONNECTED"  # WebSocket open, not in a room yet
    JOINED = "JOINED"  # in a room (alone or with the other peer)
    GONE = "GONE"  # sent bye, was refused, or disconnected


# The state machine of one connection, as a table: (state, event) -> next state.  The
# events are the client's message types, plus "room-full": the server's refusal of a
# join.  Anything missing is out of order and answered with the error in WRONG_STATE.
TRANSITIONS = StateTable("signaling", {
    (PeerState.CONNECTED, "join"): PeerState.JOINED,
    (PeerState.CONNECTED, "room-full"): PeerState.GONE,
    (PeerState.JOINED, "offer"): PeerState.JOINED,
    (PeerState.JOINED, "answer"): PeerState.JOINED,
    (PeerState.JOINED, "candidate"): PeerState.JOINED,
    (PeerState.JOINED, "bye"): PeerState.GONE,
})
WRONG_STATE = {PeerState.CONNECTED: "not-joined", PeerState.JOINED: "already-joined"}


def refusal(exc: BadTransition) -> SignalingError:
    """The error a client gets for a message its state does not accept (one code per meaning)."""
    allowed = ", ".join(e for e in exc.expected if e in CLIENT_MESSAGES) or "nothing"
    return SignalingError(WRONG_STATE.get(exc.state, "not-joined"),
                          f"{exc.event!r} is not allowed while {exc.state.value} (expected: {allowed})")


@dataclass
class Rooms:
    """Every room and every connected peer.  Feed it events, get back actions.

    ``connect(peer)`` when a WebSocket opens (the driver names the peer: ids
    are injected, so tests are exact), ``receive(peer, text)`` per message,
    ``disconnect(peer)`` when the socket closes for any reason.
    """

    room_size: int = ROOM_SIZE  # the server's --room-size (the demo's --no-room-limit raises it)
    rooms: dict[str, list[str]] = field(default_factory=dict)
    state: dict[str, PeerState] = field(default_factory=dict)
    room_of: dict[str, str] = field(default_factory=dict)

    def connect(self, peer: str) -> list[Send | Close]:
        self.state[peer] = PeerState.CONNECTED
        return []

    def receive(self, peer: str, text: str) -> list[Send | Close]:
        try:
            message = parse_message(text)
            kind = message["type"]
            try:
                TRANSITIONS.next(self.state[peer], kind)
            except BadTransition as exc:
                raise refusal(exc) from None
            return getattr(self, "_on_" + kind.replace("-", "_"))(peer, message)
        except SignalingError as exc:
            return [Send(peer, error_message(exc.code, exc.detail))]

    def disconnect(self, peer: str) -> list[Send | Close]:
        actions = self._leave(peer)
        self.state.pop(peer, None)
        return actions

    def other(self, peer: str) -> str | None:
        members = self.rooms.get(self.room_of.get(peer, ""), [])
        return next((m for m in members if m != peer), None)

    # -- one handler per message type ------------------------------------------------

    def _on_join(self, peer: str, message: dict[str, Any]) -> list[Send | Close]:
        room = message["room"]
        members = self.rooms.setdefault(room, [])
        if len(members) >= self.room_size:
            self.state[peer] = TRANSITIONS.next(self.state[peer], "room-full")
            detail = f"the room already has {self.room_size} peers (connection closed with {ROOM_FULL_CLOSE})"
            return [Send(peer, error_message("room-full", detail)), Close(peer, ROOM_FULL_CLOSE, "room full")]
        members.append(peer)
        self.room_of[peer] = room
        self.state[peer] = TRANSITIONS.next(self.state[peer], "join")
        others = [m for m in members if m != peer]
        actions: list[Send | Close] = [Send(peer, {"type": "joined", "room": room, "peer": peer,
                                                   "peers": others})]
        actions += [Send(m, {"type": "peer-joined", "peer": peer}) for m in others]
        return actions

    def _relay(self, peer: str, message: dict[str, Any]) -> list[Send | Close]:
        other = self.other(peer)
        if other is None:
            raise SignalingError("no-peer", f"{message['type']}: nobody else is in the room")
        return [Send(other, {**message, "from": peer})]

    _on_offer = _on_answer = _on_candidate = _relay

    def _on_bye(self, peer: str, message: dict[str, Any]) -> list[Send | Close]:
        actions = self._leave(peer)
        self.state[peer] = TRANSITIONS.next(self.state[peer], "bye")
        return actions

    def _leave(self, peer: str) -> list[Send | Close]:
        room = self.room_of.pop(peer, None)
        if room is None:
            return []
        members = self.rooms[room]
        members.remove(peer)
        if not members:
            del self.rooms[room]  # the slot and the room are free again
        return [Send(m, {"type": "peer-left", "peer": peer}) for m in members]
