"""The messages of ``graphql-transport-ws``: their names, their checks, and the close codes.

Reading order: **messages** -> transport_ws -> client -> auction -> feeds -> server -> demo.

Every WebSocket message is one JSON object with a ``type`` (``PROTOCOL.md``,
Messages).  :func:`decode` checks one against the protocol's rules and raises
:class:`ProtocolError` with close code 4400 when it is not a message at all;
whether it is the *right* message for the moment is ``transport_ws.py``'s
business (the state machines).
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

SUBPROTOCOL = "graphql-transport-ws"


class CloseCode(IntEnum):
    """The WebSocket close codes ``PROTOCOL.md`` gives meaning to."""

    BAD_REQUEST = 4400  # not JSON, no or unknown type, a field of the wrong shape
    UNAUTHORIZED = 4401  # subscribe (or complete) before connection_ack
    FORBIDDEN = 4403  # the server refused the connection_init payload
    INIT_TIMEOUT = 4408  # no connection_init within the server's wait
    SUBSCRIBER_EXISTS = 4409  # subscribe with an id that is still running
    TOO_MANY_INIT = 4429  # a second connection_init
    INTERNAL_ERROR = 4500  # the server failed, not the client


# Who may send which type (the other side closes with 4400 on one it should never get).
CLIENT_TYPES = frozenset({"connection_init", "subscribe", "complete", "ping", "pong"})
SERVER_TYPES = frozenset({"connection_ack", "next", "error", "complete", "ping", "pong"})
NEEDS_ID = frozenset({"subscribe", "next", "error", "complete"})


class ProtocolError(Exception):
    """A message that breaks the protocol; ``code`` and ``reason`` are what to close with."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{int(code)} {reason}")
        self.code, self.reason = code, reason


def encode(message: dict[str, Any]) -> str:
    """One message as the text of one WebSocket message (compact JSON, no spaces)."""
    return json.dumps(message, separators=(",", ":"))


def decode(text: str | bytes, allowed: frozenset[str]) -> dict[str, Any]:
    """Parse and check one message; :class:`ProtocolError` (4400) if it is not a valid one.

    ``allowed`` is the set of types the receiving side may get (``CLIENT_TYPES``
    on a server).  The checks are the ones ``PROTOCOL.md`` makes: a JSON object,
    a known ``type``, a string ``id`` where one belongs, an object or null
    ``payload`` (a list of errors for ``error``), and a string ``query`` in a
    ``subscribe``.
    """
    if isinstance(text, bytes):
        raise ProtocolError(CloseCode.BAD_REQUEST, "messages are text frames, this was binary")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError(CloseCode.BAD_REQUEST, "Invalid message received: not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError(CloseCode.BAD_REQUEST, "Invalid message received: no type")
    kind = message["type"]
    if kind not in allowed:
        raise ProtocolError(CloseCode.BAD_REQUEST, f"Invalid message received: type {kind!r}")
    if kind in NEEDS_ID and not (isinstance(message.get("id"), str) and message["id"]):
        raise ProtocolError(CloseCode.BAD_REQUEST, f"Invalid message received: {kind} without an id")
    payload = message.get("payload")
    if kind == "error":
        if not isinstance(payload, list):
            raise ProtocolError(CloseCode.BAD_REQUEST, "Invalid message received: error payload not a list")
    elif payload is not None and not isinstance(payload, dict):
        raise ProtocolError(CloseCode.BAD_REQUEST, f"Invalid message received: {kind} payload not an object")
    if kind == "subscribe" and not isinstance((payload or {}).get("query"), str):
        raise ProtocolError(CloseCode.BAD_REQUEST, "Invalid message received: subscribe without a query")
    if kind == "next" and payload is None:
        raise ProtocolError(CloseCode.BAD_REQUEST, "Invalid message received: next without a payload")
    return message


def summary(text: str) -> str:
    """One trace line for a message text: ``subscribe #1 subscription { ... }``, ``next #1 {...}``."""
    try:
        message = json.loads(text)
        kind = str(message["type"])
    except (ValueError, KeyError, TypeError):
        return f"(not a message) {text[:60]!r}"
    label = kind + (f" #{message['id']}" if "id" in message else "")
    payload = message.get("payload")
    if kind == "subscribe" and isinstance(payload, dict):
        shown = " ".join(str(payload.get("query", "")).split())
    elif isinstance(payload, dict | list):
        shown = json.dumps(payload)
    else:
        shown = ""
    return f"{label} {shown}".rstrip()
