"""The chat's message schema: the JSON that travels inside WebSocket text frames.

Reading order: **schema** -> hub -> broker -> app -> handlers -> server; then client; then the page
(``static/index.html``, ``static/chat.js``).

This module is the chat's *pure* layer: it parses and builds messages and does no I/O,
so every rule below is testable with plain strings.  RFC 6455 carries opaque
messages; everything here sits on top of it, in the frame's payload (§5.6: a text
frame must be UTF-8, which is why the chat speaks JSON in text frames only).

Client -> server (anything else gets an ``error`` back; the connection stays up):

=========  ==========================================  ==================================
type       fields                                      meaning
=========  ==========================================  ==================================
join       ``room``                                    become a member of ``room``
leave      ``room``                                    stop being a member
say        ``room``, ``text``                          post ``text`` to ``room``
=========  ==========================================  ==================================

Server -> client:

=========  ==========================================  ==================================
type       fields                                      meaning
=========  ==========================================  ==================================
welcome    ``user``, ``server``                        sent once, right after the handshake
joined     ``room``, ``user``                          someone (maybe you) joined ``room``
left       ``room``, ``user``                          someone left ``room``
message    ``room``, ``from``, ``text``, ``id``,       a post; ``server`` is where it was
           ``server``                                  posted, ``id`` is unique per post
error      ``code``, ``detail``                        your last message was refused
=========  ==========================================  ==================================

Rules: a room name matches ``[a-z0-9_-]{1,32}``; a text is 1..2000 characters;
unknown fields are refused (a typo such as ``"txt"`` should be an error, not a silent
empty post).  Error codes: ``bad_json``, ``bad_message``, ``not_in_room``,
``unavailable`` (see :data:`ERROR_CODES`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ROOM_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
MAX_TEXT = 2000

ERROR_CODES = {
    "bad_json": "the frame was not a JSON object in a text frame",
    "bad_message": "the JSON did not match the schema",
    "not_in_room": "say/leave for a room you have not joined",
    "unavailable": "the server cannot do it right now (shutting down, Redis down)",
}


class SchemaError(ValueError):
    """A client message was refused; ``code`` and ``detail`` become an ``error`` message."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# The three client messages, as small frozen values (one class per message type).
@dataclass(frozen=True)
class Join:
    room: str


@dataclass(frozen=True)
class Leave:
    room: str


@dataclass(frozen=True)
class Say:
    room: str
    text: str


ClientMessage = Join | Leave | Say

# Which fields each client message has, all of them required.
CLIENT_FIELDS: dict[str, frozenset[str]] = {
    "join": frozenset({"type", "room"}),
    "leave": frozenset({"type", "room"}),
    "say": frozenset({"type", "room", "text"}),
}


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one client frame's payload, or raise :class:`SchemaError` saying what is wrong."""
    if isinstance(raw, bytes):
        # Binary frames (opcode 0x2) carry no text: this protocol has no use for them.
        raise SchemaError("bad_json", "binary frame: send JSON in a text frame")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SchemaError("bad_json", f"not JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise SchemaError("bad_json", f"expected a JSON object, got {type(data).__name__}")

    kind = data.get("type")
    fields = CLIENT_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        expected = ", ".join(sorted(CLIENT_FIELDS))
        raise SchemaError("bad_message", f"type must be one of {expected}; got {kind!r:.40}")
    if data.keys() != fields:  # one comparison for a good message; the details only for a bad one
        missing = sorted(fields - data.keys())
        if missing:
            raise SchemaError("bad_message", f"{kind}: missing field(s) {', '.join(missing)}")
        extra = sorted(data.keys() - fields)
        raise SchemaError("bad_message", f"{kind}: unknown field(s) {', '.join(extra)}")

    room = _room(data["room"])
    if kind == "join":
        return Join(room)
    if kind == "leave":
        return Leave(room)
    return Say(room, _text(data["text"]))


def _room(value: Any) -> str:
    if not isinstance(value, str) or not ROOM_PATTERN.fullmatch(value):
        raise SchemaError("bad_message", f"room must match [a-z0-9_-]{{1,32}}; got {value!r:.40}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise SchemaError("bad_message", f"text must be a string; got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_TEXT:
        raise SchemaError("bad_message", f"text must be 1..{MAX_TEXT} characters; got {len(value)}")
    return value


def client_message(message: ClientMessage) -> dict[str, str]:
    """The JSON object for a client message (what :class:`~.client.ChatClient` sends)."""
    if isinstance(message, Join):
        return {"type": "join", "room": message.room}
    if isinstance(message, Leave):
        return {"type": "leave", "room": message.room}
    return {"type": "say", "room": message.room, "text": message.text}


# Server -> client messages are plain dicts: they are built once and then only serialised.
def welcome(user: str, server: str) -> dict[str, str]:
    return {"type": "welcome", "user": user, "server": server}


def joined(room: str, user: str) -> dict[str, str]:
    return {"type": "joined", "room": room, "user": user}


def left(room: str, user: str) -> dict[str, str]:
    return {"type": "left", "room": room, "user": user}


def message(room: str, sender: str, text: str, message_id: str, server: str) -> dict[str, str]:
    # "from" is a Python keyword, hence the parameter name ``sender``.
    return {"type": "message", "room": room, "from": sender, "text": text, "id": message_id,
            "server": server}


def error(code: str, detail: str) -> dict[str, str]:
    return {"type": "error", "code": code, "detail": detail}


# json.dumps() with options builds a new JSONEncoder on every call; one, made once, is reused.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(obj: dict[str, Any]) -> str:
    """One compact JSON text: serialised once per broadcast, not once per member."""
    return _ENCODER.encode(obj)
