"""Shared subscriptions for ``server.py``: one execution per event for everyone on the same document.

Reading order: messages -> transport_ws -> client -> auction -> **feeds** -> server -> demo.

strawberry (and the auction app) run each subscriber's own copy of the
subscription: one generator per subscriber, and on every event, one
execution of the selection set and one JSON encoding per subscriber.  With a
thousand subscribers on ``bids(lot: "lamp")`` that is a thousand identical
executions per bid.

A :class:`Feed` is one running copy per distinct (document, variables,
operation name): its generator takes each event once, the result is encoded
once, and the same text (with each subscriber's own ``id``) goes into every
member's outbox (``ServerConnection.send_next_encoded``).  Members join and
leave as they ``subscribe`` and ``complete`` or disconnect; the last one out
cancels the feed, which closes its generator (nothing leaks).

What it costs: results must not depend on who is asking.  The feed runs with
a context that has no user, so a resolver that reads ``info.context["user"]``
would see ``None``; the auction's ``bids`` reads nothing of the kind.  A
server whose subscriptions are per-user keys its feeds by user as well.

Members never slow each other down: a feed only appends to outboxes; each
connection's writer task drains its own, and a connection whose outbox grows
past its limit is closed (``server.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from .messages import encode

if TYPE_CHECKING:
    from .server import Session

FeedKey = tuple[str, str, str | None]  # (document, variables as JSON, operation name)


def feed_key(query: str, variables: dict[str, Any] | None, operation_name: str | None) -> FeedKey:
    return query, json.dumps(variables or {}, sort_keys=True), operation_name


class Feed:
    """One subscription generator, many members: (session, the id that session gave it)."""

    def __init__(self, feeds: Feeds, key: FeedKey, variables: dict[str, Any] | None) -> None:
        self.feeds, self.key, self.variables = feeds, key, variables
        self.members: dict[tuple[Session, str], None] = {}  # insertion order: delivery order
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        query, _, operation_name = self.key
        try:
            results = await self.feeds.schema.stream(query, variable_values=self.variables,
                                                     context_value=self.feeds.context,
                                                     operation_name=operation_name)
            async with aclosing(results):
                async for result in results:
                    if isinstance(result, PreExecutionError):  # the document is refused for everyone
                        errors = [e.formatted for e in result.errors or []]
                        for session, op_id in list(self.members):
                            session.connection.send_error(op_id, errors)
                            session.kick()
                        return
                    payload: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        payload["errors"] = [e.formatted for e in result.errors]
                    text = encode(payload)  # once, for every member
                    for session, op_id in list(self.members):
                        session.deliver(op_id, text)
            for session, op_id in list(self.members):
                session.connection.send_complete(op_id)
                session.kick()
        finally:
            if self.feeds.running.get(self.key) is self:
                del self.feeds.running[self.key]


class Feeds:
    """The running feeds of one server process."""

    def __init__(self, schema: Any, context: dict[str, Any]) -> None:
        self.schema, self.context = schema, context
        self.running: dict[FeedKey, Feed] = {}

    def join(self, session: Session, op_id: str, query: str, variables: dict[str, Any] | None,
             operation_name: str | None) -> Feed:
        key = feed_key(query, variables, operation_name)
        feed = self.running.get(key)
        if feed is None:
            feed = self.running[key] = Feed(self, key, variables)
            feed.task = asyncio.create_task(feed.run())
        feed.members[(session, op_id)] = None
        return feed

    async def leave(self, feed: Feed, session: Session, op_id: str) -> None:
        feed.members.pop((session, op_id), None)
        if not feed.members and feed.task is not None:  # the last one out: close the generator
            if self.running.get(feed.key) is feed:
                del self.running[feed.key]  # a newcomer starts a new feed, never joins a dying one
            feed.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed.task
