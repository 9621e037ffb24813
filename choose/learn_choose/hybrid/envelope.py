"""The event envelope: one shape for every event, whichever way it came in or goes out. Pure.

Reading order: signature -> **envelope** -> fanout -> stream -> app -> server -> upstream ->
clients -> demo.

An event comes in two ways (a webhook body, a WebSocket message), is stored once
as a Redis stream entry, and goes out two ways (an SSE event, a WebSocket
message).  Its **id is the Redis stream entry id** (``1765142400123-0``:
milliseconds, then a sequence number): Redis assigns it, both fan-out servers
read the same entries, so an id means the same event on either server.  That is
what lets a browser that was on server 1 resume on server 2 with its
``Last-Event-ID``.

In Redis (``XADD hybrid:events * type price source webhook:evt_7 data {...}``)::

    type    price | news | order | chat        what kind of event (the SSE "event:" field)
    source  webhook:evt_7 | ws:trader/3        where it came from: the dedup key, and the trace
    data    {"symbol":"ACME","price":101.5}    JSON text, stored and sent as it came

On the SSE wire (WHATWG HTML §9.2, "Server-sent events")::

    id: 1765142400123-0
    event: price
    data: {"source":"webhook:evt_7","data":{"symbol":"ACME","price":101.5}}

On the WebSocket, from the client (a text frame)::

    {"id": "3", "type": "order", "data": {"side": "buy", "qty": 10}}

and to it: ``{"kind": "ack", "id": "3", "event_id": "1765...-0", "duplicate": false}``,
``{"kind": "error", "id": "3", "reason": "..."}``, or the events themselves as
``{"kind": "event", "id": "1765...-0", "type": ..., "source": ..., "data": ...}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")  # nothing that could break an SSE "event:" line
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # WebSocket client names and their message ids
UPSTREAM_TYPES = frozenset({"price", "news"})  # what the provider may send
CLIENT_TYPES = frozenset({"order", "chat"})  # what a WebSocket client may send
MAX_DATA = 16 * 1024  # bytes of JSON per event


class BadEvent(ValueError):
    """An incoming body or message that is not an event; the text says what is wrong."""


@dataclass(frozen=True)
class Event:
    id: str  # the Redis stream entry id
    type: str
    source: str
    data: str  # JSON text

    @property
    def key(self) -> tuple[int, int]:
        return id_key(self.id)


def id_key(stream_id: str) -> tuple[int, int]:
    """``"1765142400123-4"`` -> ``(1765142400123, 4)``: stream ids compare as this pair, not as text."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)


def valid_id(text: str | None) -> bool:
    return bool(text) and STREAM_ID.fullmatch(text) is not None  # type: ignore[arg-type]


def from_entry(stream_id: str, fields: dict[str, str]) -> Event:
    """An event from a Redis stream entry (``XRANGE``/``XREAD`` reply, decoded)."""
    return Event(stream_id, fields.get("type", "message"), fields.get("source", "?"),
                 fields.get("data", "null"))


def _data_text(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_DATA:
        raise BadEvent(f"data is larger than {MAX_DATA} bytes")
    return text


def parse_webhook(body: bytes) -> tuple[str, str]:
    """(type, data JSON) from a provider's body ``{"type": "price", "data": {...}}``."""
    try:
        item = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent(f"the body is not JSON: {exc}") from None
    if not isinstance(item, dict) or set(item) != {"type", "data"}:
        raise BadEvent('the body must be exactly {"type": ..., "data": ...}')
    if item["type"] not in UPSTREAM_TYPES:
        raise BadEvent(f"type must be one of {sorted(UPSTREAM_TYPES)}, got {item['type']!r}")
    return item["type"], _data_text(item["data"])


@dataclass(frozen=True)
class ClientMessage:
    id: str  # chosen by the client, unique per client: its retry of the same message reuses it
    type: str
    data: str  # JSON text


def parse_client_message(text: str) -> ClientMessage:
    """A WebSocket client's ``{"id": ..., "type": "order"|"chat", "data": ...}``."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadEvent(f"not JSON: {exc}") from None
    if not isinstance(item, dict) or set(item) != {"id", "type", "data"}:
        raise BadEvent('send exactly {"id": ..., "type": ..., "data": ...}')
    if not isinstance(item["id"], str) or not CLIENT_ID.fullmatch(item["id"]):
        raise BadEvent(f"id must match {CLIENT_ID.pattern}")
    if item["type"] not in CLIENT_TYPES:
        raise BadEvent(f"type must be one of {sorted(CLIENT_TYPES)}, got {item['type']!r}")
    return ClientMessage(item["id"], item["type"], _data_text(item["data"]))


def sse_payload(event: Event) -> str:
    """The ``data:`` of an SSE event: source and data in one JSON line (no newline inside)."""
    return f'{{"source":{json.dumps(event.source)},"data":{event.data}}}'


def sse_frame(event: Event) -> bytes:
    """The event as its lines on the SSE wire, blank line included."""
    return f"id: {event.id}\nevent: {event.type}\ndata: {sse_payload(event)}\n\n".encode()


def ws_event(event: Event) -> str:
    return (f'{{"kind":"event","id":"{event.id}","type":"{event.type}",'
            f'"source":{json.dumps(event.source)},"data":{event.data}}}')


def ws_ack(message_id: str, event_id: str, duplicate: bool) -> str:
    return json.dumps({"kind": "ack", "id": message_id, "event_id": event_id, "duplicate": duplicate})


def ws_error(message_id: str | None, reason: str) -> str:
    return json.dumps({"kind": "error", "id": message_id, "reason": reason})
