"""The Streams producer: XADD once per publish, even when retried through a Redis restart.

Reading order: resp -> resp_client -> envelope -> publisher -> subscriber ->
slow_subscriber -> **stream_producer** -> streams.

    python -m learn_pubsub.streams produce --redis-url URL --stream orders --count 10

Appending to a stream (https://redis.io/docs/latest/commands/xadd/)::

    XADD orders MAXLEN ~ 10000 * envelope {...}     append; trim to about 10000 entries

**The producer retries, and never writes an entry twice.**  An XADD whose
reply was lost (Redis restarted, the connection broke) may or may not have
been applied; a blind retry would add a second entry.  So each publish gets an
*idempotency key* (a random UUID, the same for all its retries), and its XADD
runs inside a Lua script (``XADD_ONCE`` below, sent with EVALSHA), which Redis
runs atomically.  For the key ``9b1d`` (really 32 hex digits) it does, as one step::

    GET produced:orders:9b1d                               set? then return that entry id, add nothing
    XADD orders MAXLEN ~ 10000 * envelope {...} key 9b1d   else append, with the key,
    SET produced:orders:9b1d 1767225600000-0 EX 86400      and mark the key as written

The mark and the entry are written together or not at all (with the AOF too:
Redis logs a script's writes as one transaction), so a retry finds the mark
exactly when the entry exists.  The key is also in the entry (field ``key``),
for whoever audits the stream.  The mark lives a day (``MARK_TTL``): a retry
later than that would write again; it costs one small key per entry meanwhile.
(Kafka's idempotent producer does the same with a producer id and sequence
numbers, checked by the broker.)  Retrying (``publish(..., retry=True)``) uses
the same full-jitter backoff as the consumer's reconnects.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from wirelab_common.wiretrace import Trace

from .envelope import encode, make_envelope, sequential_ids
from .publisher import with_backoff

FIELD = "envelope"  # the field holding the encoded envelope (and "key": the idempotency key)
MARK_TTL = 86_400  # seconds a "this key was written" mark lives: longer than any retry
# XADD at most once per idempotency key; run atomically by Redis.  Returns {entry id, 1 if added}.
XADD_ONCE = """
local done = redis.call('GET', KEYS[2])
if done then return {done, 0} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[3], 'key', ARGV[4])
redis.call('SET', KEYS[2], id, 'EX', ARGV[5])
return {id, 1}
"""


def client_for(url: str) -> aioredis.Redis:
    # redis-py's own retries off: reconnecting is the consumer's job, and traced.
    # Bytes, not str: an entry that is not UTF-8 must reach validation, not crash the parser.
    return aioredis.from_url(url, decode_responses=False, retry=Retry(NoBackoff(), 0))


def text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class StreamPublisher:
    """XADD envelopes to a stream per topic, trimmed with ``MAXLEN ~ maxlen``, once per publish."""

    def __init__(self, redis_url: str, trace: Trace | None = None, *, maxlen: int = 10_000,
                 id_source: Callable[[], str] | None = None, clock: Callable[[], float] = time.time,
                 backoff_base: float = 0.1, backoff_max: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.trace = trace or Trace("producer")
        self.maxlen = maxlen
        self.id_source = id_source or sequential_ids(self.trace.actor or "producer")
        self.clock = clock
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.rng = rng or random.Random()
        self.entries: list[tuple[str, str]] = []  # (entry id, envelope id) of every XADD
        self.delays: list[float] = []  # every retry delay slept, in order
        self.already_written = 0  # retries that found their entry already in the stream
        self._redis = client_for(redis_url)
        self._xadd_once = self._redis.register_script(XADD_ONCE)  # EVALSHA, loaded on NOSCRIPT

    async def publish(self, stream: str, payload: Any, *, retry: bool = False) -> str:
        """Append ``payload`` to ``stream``; return the entry id Redis assigned.

        One attempt, which raises if Redis cannot be reached; with ``retry`` the
        attempt is repeated after a backoff delay until Redis answers, and the
        entry is still written once (the module docstring says how).
        """
        envelope = make_envelope(stream, payload, id_source=self.id_source, clock=self.clock)
        data, key = encode(envelope), uuid.uuid4().hex

        def attempt() -> Awaitable[list[Any]]:  # every retry: the same key, so at most one entry
            return self._xadd_once(keys=[stream, f"produced:{stream}:{key}"],
                                   args=[self.maxlen, FIELD, data, key, MARK_TTL])

        if retry:
            reply = await with_backoff(attempt, self.trace, f"XADD {stream} {envelope.id}",
                                       base=self.backoff_base, max_delay=self.backoff_max,
                                       rng=self.rng, delays=self.delays)
        else:
            reply = await attempt()
        entry_id, added = text(reply[0]), reply[1] == 1
        self.entries.append((entry_id, envelope.id))
        if added:
            # peer and cid for the trace events: Redis, and the entry id the consumers will see.
            self.trace.sent(f"XADD {stream} MAXLEN ~ {self.maxlen} -> {entry_id} ({envelope.id})",
                            [f"EVALSHA {self._xadd_once.sha}: XADD once for idempotency key {key}", data],
                            peer="redis", cid=entry_id)
        else:
            self.already_written += 1
            self.trace.state(f"XADD {stream} {envelope.id}: already written as {entry_id} by the attempt "
                             "whose reply was lost; not written twice")
        return entry_id

    async def aclose(self) -> None:
        await self._redis.aclose()
