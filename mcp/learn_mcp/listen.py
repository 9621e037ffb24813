"""``subscriptions/listen`` (2026-07-28): how a modern client hears that something changed.

Reading order: ... -> outbox -> mrtr -> **listen** -> server_core -> transports.

2026-07-28 has no sessions and no GET stream, so a change the server announces
(``notifications/resources/updated``, ``.../list_changed``) needs a request to ride
on.  The client sends ``subscriptions/listen`` with the filter it wants::

    {"notifications": {"resourceSubscriptions": ["notes://n2"], "resourcesListChanged": true}}

and that request's response stream *is* the subscription: first
``notifications/subscriptions/acknowledged`` with the subset the server honors,
then every matching notification, each stamped with
``_meta["io.modelcontextprotocol/subscriptionId"]`` = the listen request's id.  The
stream lasts until the client cancels the request (closes the SSE stream over
HTTP, ``notifications/cancelled`` over stdio), or the server ends it with a result
carrying the same ``_meta``.  Nothing is replayed: a client that lost its stream
listens again and reads again.  To change what it watches, it opens a new listen
and closes the old one.  It replaces ``resources/subscribe`` (removed here: -32601).

The server never sends a kind the client did not ask for.  Our tools and prompts never
change, so ``toolsListChanged`` and ``promptsListChanged`` are honored and never fire.
Bounded: a stream whose client stops reading is ended after ``MAX_BACKLOG`` events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from .jsonrpc import INVALID_PARAMS, JsonRpcError, Notification, RequestId

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
LIST_FLAGS = {"notifications/tools/list_changed": "toolsListChanged",
              "notifications/prompts/list_changed": "promptsListChanged",
              "notifications/resources/list_changed": "resourcesListChanged"}
MAX_BACKLOG = 1000
Send = Callable[[Notification], Awaitable[None]]


def honored(requested: Any) -> dict[str, Any]:
    """The filter the server will honor: every flag asked for, every URI (-32602 if malformed)."""
    if not isinstance(requested, dict):
        raise JsonRpcError(INVALID_PARAMS, "subscriptions/listen needs params.notifications (an object)")
    kept: dict[str, Any] = {flag: True for flag in LIST_FLAGS.values() if requested.get(flag) is True}
    uris = requested.get("resourceSubscriptions")
    if uris is not None:
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise JsonRpcError(INVALID_PARAMS, "notifications.resourceSubscriptions must be a list of URIs")
        if uris:
            kept["resourceSubscriptions"] = list(dict.fromkeys(uris))
    return kept


def matches(wanted: dict[str, Any], note: Notification) -> bool:
    flag = LIST_FLAGS.get(note.method)
    if flag is not None:
        return wanted.get(flag) is True
    if note.method == "notifications/resources/updated":
        return note.params.get("uri") in wanted.get("resourceSubscriptions", ())
    return False


class Listeners:
    """The open listen streams of one server, and the fan-out of each change to them."""

    def __init__(self) -> None:
        self._keys = itertools.count()
        self.streams: dict[int, tuple[dict[str, Any], asyncio.Queue[Notification | None]]] = {}

    def publish(self, note: Notification) -> None:
        for key, (wanted, queue) in list(self.streams.items()):
            if matches(wanted, note):
                if queue.qsize() >= MAX_BACKLOG:  # the client stopped reading: end its stream
                    self.streams.pop(key, None)
                    queue.put_nowait(None)
                else:
                    queue.put_nowait(note)

    async def serve(self, request_id: RequestId, params: dict[str, Any], send: Send) -> dict[str, Any]:
        """Run one listen stream until it is cancelled or closed; returns its closing result."""
        wanted = honored(params.get("notifications"))
        meta = {SUBSCRIPTION_ID: request_id}
        queue: asyncio.Queue[Notification | None] = asyncio.Queue()
        key = next(self._keys)
        self.streams[key] = (wanted, queue)  # before the ack: a change during it is not lost
        try:
            await send(Notification("notifications/subscriptions/acknowledged",
                                    {"notifications": wanted, "_meta": meta}))
            while (note := await queue.get()) is not None:
                await send(Notification(note.method, {**note.params, "_meta": meta}))
        finally:
            self.streams.pop(key, None)
        return {"_meta": meta}

    def close(self) -> None:
        """End every stream gracefully: each sends its result and finishes."""
        for _wanted, queue in self.streams.values():
            queue.put_nowait(None)
        self.streams.clear()
