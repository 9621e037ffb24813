"""The broker: how a room event reaches members connected to *other* server processes.

Reading order: schema -> hub -> **broker** -> app -> handlers -> server; then client; then the page.

One chat server holds its members in its own hub.  Behind a load balancer, alice
may sit on server s1 and bob on s2; a message alice posts must reach bob too.  The
servers share nothing but Redis pub/sub::

    s1: alice says "hi"
      |  PUBLISH chat:room:lobby {"origin":"s1","event":{"type":"message",...}}
      v
    Redis ---- pattern subscription chat:room:* ----+----------------+
                                                    v                v
                                    s1: hub.deliver("lobby")   s2: hub.deliver("lobby")

The data path is the same for every member: with Redis, the posting server does
**not** deliver locally first; it waits for its own message to come back from the
subscription.  Redis hands every subscriber the messages of a channel in one order,
so members on s1 and on s2 see the room in the same order, and a test that passes
on one server exercises the same code as a test across two.

Without a Redis URL, :class:`LocalBroker` delivers straight to the hub: one process,
no scale-out, identical behaviour otherwise.

Candour: pub/sub is at-most-once.  A message published while a server is
disconnected from Redis is lost for that server's members (Redis keeps nothing
for absent subscribers).  Production chats that must not lose history add a
stream (``XADD``/``XREAD``) or a database and let clients resync from an id.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wirelab_common.wiretrace import Trace

from . import schema
from .hub import Hub

CHANNEL_PREFIX = "chat:room:"
PATTERN = CHANNEL_PREFIX + "*"
# Redis in the structured trace events: it traces nothing itself, so the viewer draws it from
# this name; a chat message's id (``cid``) follows it through Redis to every server.
REDIS = "redis"


class BrokerUnavailable(Exception):
    """Publishing failed (Redis is down); the client gets an ``unavailable`` error."""


def describe(event: dict[str, Any]) -> str:
    """A short label for a room event in the trace: ``message s1-4`` or ``joined alice``."""
    return f"{event['type']} {event.get('id') or event.get('user', '')}".rstrip()


class LocalBroker:
    """One process, no Redis: publishing a room event is delivering it to the hub."""

    mode = "local"

    def __init__(self, hub: Hub, trace: Trace, trace_messages: bool = True) -> None:
        self.hub = hub
        self.trace = trace
        self.trace_messages = trace_messages  # False: state lines only (--quiet)

    async def start(self) -> None:
        self.trace.state("broker: local only (no --redis-url): one process, no scale-out")

    async def publish(self, room: str, event: dict[str, Any]) -> None:
        count = self.hub.deliver(room, schema.encode(event))
        if self.trace_messages:
            # A fan-out to every local member: no single peer to name in the trace events.
            self.trace.sent(f"{room}: {describe(event)} -> {count} member(s)", cid=event.get("id"))

    async def stop(self) -> None:
        pass


class RedisBroker:
    """Fan-out through Redis pub/sub; delivers to the local hub only from the subscription."""

    mode = "redis"

    def __init__(self, hub: Hub, url: str, server_id: str, trace: Trace, retry_delay: float = 0.5,
                 trace_messages: bool = True) -> None:
        self.hub = hub
        self.url = url
        self.server_id = server_id
        self.trace = trace
        self.trace_messages = trace_messages  # False: state lines only (--quiet)
        self.retry_delay = retry_delay
        # After Redis restarts, the pooled connection is dead; redis-py retries a command
        # on a fresh connection only for the errors listed in retry_on_error.
        self._redis = aioredis.from_url(url, decode_responses=True,
                                        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
                                        retry_on_error=[RedisConnectionError, RedisTimeoutError])
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe, and return only once Redis confirmed it (so no early message is missed)."""
        await self._subscribe()
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def _subscribe(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.psubscribe(PATTERN)
        # The confirmation is the first message on the subscription connection.
        reply = await pubsub.get_message(timeout=5.0)
        if not reply or reply["type"] != "psubscribe":
            await pubsub.aclose()
            raise RedisError(f"no confirmation for PSUBSCRIBE {PATTERN}: {reply!r}")
        self._pubsub = pubsub
        self.trace.state(f"redis subscribed to {PATTERN} at {self.url}")

    async def publish(self, room: str, event: dict[str, Any]) -> None:
        channel = CHANNEL_PREFIX + room
        envelope = schema.encode({"origin": self.server_id, "event": event})
        if self.trace_messages:
            self.trace.sent(f"-> redis PUBLISH {channel} {describe(event)}", [envelope], peer=REDIS,
                            cid=event.get("id"))
        try:
            await self._redis.publish(channel, envelope)
        except (RedisError, OSError) as exc:
            self.trace.state(f"redis PUBLISH failed: {exc}")
            raise BrokerUnavailable(f"Redis is unreachable: {exc}") from None

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                async for item in self._pubsub.listen():
                    failures = 0
                    if item["type"] == "pmessage":
                        self._on_message(item["channel"], item["data"])
                        # A burst from Redis is read without waiting: let the members'
                        # pumps run before it fills anyone's queue (see hub.py).
                        if self.hub.backlogged():
                            await asyncio.sleep(0)
                    elif item["type"] == "psubscribe":
                        self.trace.state(f"redis re-subscribed to {PATTERN}")
                raise RedisError("the subscription ended")  # listen() only stops if unsubscribed
            except (RedisError, OSError) as exc:
                # redis-py already retried a few times; back off and start a fresh
                # subscription.  Messages published meanwhile are lost (see above).
                failures += 1
                delay = min(self.retry_delay * 2 ** (failures - 1), 5.0)
                self.trace.state(f"redis subscription lost ({exc}); retry in {delay:.1f} s")
                await self._drop_pubsub()
                await asyncio.sleep(delay)

    def _on_message(self, channel: str, data: str) -> None:
        try:
            envelope = json.loads(data)
            event = envelope["event"]
            origin = envelope["origin"]
        except (ValueError, KeyError, TypeError):
            self.trace.state(f"ignored a malformed message on {channel}")
            return
        room = channel.removeprefix(CHANNEL_PREFIX)
        count = self.hub.deliver(room, schema.encode(event))
        if self.trace_messages:
            self.trace.received(f"<- redis {channel} {describe(event)} (from {origin}) "
                                f"-> {count} local member(s)", peer=REDIS, cid=event.get("id"))

    async def _drop_pubsub(self) -> None:
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except (RedisError, OSError):
                pass
            self._pubsub = None

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
        await self._drop_pubsub()
        await self._redis.aclose()


def make_broker(hub: Hub, redis_url: str | None, server_id: str, trace: Trace,
                trace_messages: bool = True) -> LocalBroker | RedisBroker:
    """Redis fan-out when a URL is given, otherwise local-only."""
    if redis_url:
        return RedisBroker(hub, redis_url, server_id, trace, trace_messages=trace_messages)
    return LocalBroker(hub, trace, trace_messages)
