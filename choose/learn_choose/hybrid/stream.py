"""Redis between the fan-out servers: one stream, appended once per event, read by every server.

Reading order: signature -> envelope -> fanout -> **stream** -> app -> server -> upstream ->
clients -> demo.

Why a stream (``XADD``/``XREAD``) and not pub/sub (``PUBLISH``/``SUBSCRIBE``):

- **Pub/sub keeps nothing.**  A message published while a server is restarting,
  or while its connection to Redis is down, never reaches that server's clients,
  and Redis has no id a browser could resume from.
- **A stream is a log with ids.**  Every server reads the same entries in the same
  order, under the same ids; a server that was away reads on from where it
  stopped; a browser that moves to another server resumes with ``Last-Event-ID``
  (an entry id) and gets exactly what it missed, from Redis if the new server
  never held it.  The price: memory for the kept entries (``MAXLEN``), and one
  blocking ``XREAD`` per server instead of a push.

Appending is **idempotent by the event's source id** (the webhook's
``webhook-id``, or a WebSocket client's name and message id).  The check and the
append run in one Lua script, which Redis runs atomically, so two servers that get
the same delivery at the same moment (the provider retried on the other one) add
it once, and no server can die between the check and the append (leaving an
event marked as seen that was never added)::

    SET hybrid:seen:<source> "" NX EX <ttl>  -- already there: return the first append's id
    SET hybrid:events:trimmed <id>           -- if the stream is full: the entry about to go
    XADD hybrid:events MAXLEN <n> * type .. source .. data ..
    SET hybrid:seen:<source> <new id> EX <ttl>

**What a resume cannot get.**  The stream keeps the last ``MAXLEN`` entries (the
script records the newest entry it trims, in ``hybrid:events:trimmed``).  A
cursor older than that entry has lost events for good: :meth:`EventStream.read_after`
returns a :class:`Gap` and the client is told so (``event: reset``), never
handed a silent hole.  Redis itself runs here without persistence: a Redis
restart loses the stream (production turns on AOF, see the README).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wirelab_common.wiretrace import Trace

from .envelope import Event, from_entry, id_key
from .fanout import Window

STREAM_KEY = "hybrid:events"
SEEN_PREFIX = "hybrid:seen:"
REDIS = "redis"  # the peer name of Redis in trace events

# KEYS: the seen-key, the stream, the stream's trimmed-key.  ARGV: ttl, maxlen, type, source,
# data, dedup (1 or 0).  Redis 7.0 does not record what MAXLEN trims (its max-deleted-entry-id
# follows XDEL only), so the script notes the newest entry the XADD will push out.
APPEND_ONCE = """
if ARGV[6] == '1' and redis.call('SET', KEYS[1], '', 'NX', 'EX', ARGV[1]) == false then
  return {0, redis.call('GET', KEYS[1])}
end
local excess = redis.call('XLEN', KEYS[2]) - tonumber(ARGV[2]) + 1
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[3], gone[#gone][1])
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '*',
                      'type', ARGV[3], 'source', ARGV[4], 'data', ARGV[5])
if ARGV[6] == '1' then redis.call('SET', KEYS[1], id, 'EX', ARGV[1]) end
return {1, id}
"""


class Unavailable(Exception):
    """Redis did not answer: the webhook gets 503 (the provider retries), the client an error."""


@dataclass(frozen=True)
class Gap:
    """The events after ``requested`` up to ``trimmed`` were trimmed from the stream: lost to this client."""

    requested: str
    trimmed: str


class EventStream:
    """One server's connection to the shared stream."""

    def __init__(self, url: str, trace: Trace, *, key: str = STREAM_KEY, maxlen: int = 10_000,
                 dedup_ttl: int = 24 * 3600, dedup: bool = True, loud: bool = True) -> None:
        self.url = url
        self.trace = trace
        self.key = key
        self.trimmed_key = key + ":trimmed"  # the newest id MAXLEN has pushed out of the stream
        self.maxlen = maxlen
        self.dedup_ttl = dedup_ttl
        self.dedup = dedup  # False only for the demo's --no-dedup: shows what the check prevents
        self.loud = loud
        # Retry a command once on a fresh connection: after a Redis restart the pooled one is dead.
        self.redis = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                       retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
                                       retry_on_error=[RedisConnectionError, RedisTimeoutError])
        self._append = self.redis.register_script(APPEND_ONCE)
        # XREAD BLOCK holds its connection: the reader gets its own, apart from the pool.
        self._reader = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=2)

    async def append_once(self, source: str, type_: str, data: str) -> tuple[str, bool]:
        """Add the event unless ``source`` was added before; return (stream id, duplicate?)."""
        if self.loud:
            self.trace.sent(f"redis EVALSHA append-once {source}: XADD {self.key}",
                            [f"type {type_} data {data}"], peer=REDIS, cid=source)
        try:  # dedup 0 only for --no-dedup: the demo shows what the check prevents
            fresh, stream_id = await self._append(keys=[SEEN_PREFIX + source, self.key, self.trimmed_key],
                                                  args=[self.dedup_ttl, self.maxlen, type_, source, data,
                                                        int(self.dedup)])
        except (RedisError, OSError) as exc:
            self.trace.state(f"redis append failed: {exc}")
            raise Unavailable(str(exc)) from None
        if self.loud:
            what = f"added as {stream_id}" if fresh else f"duplicate of {stream_id}: not added"
            self.trace.received(f"redis {source} {what}", peer=REDIS, cid=stream_id)
        return stream_id, not fresh

    async def tip(self) -> str:
        """The id of the newest entry, or ``0-0`` for an empty (or absent) stream."""
        newest = await self.redis.xrevrange(self.key, count=1)
        return newest[0][0] if newest else "0-0"

    async def read_after(self, cursor: str, count: int = 500) -> list[Event] | Gap:
        """Up to ``count`` entries after ``cursor`` straight from Redis, or the :class:`Gap` before them."""
        try:
            trimmed = await self.redis.get(self.trimmed_key) or "0-0"
            if id_key(cursor) < id_key(trimmed):
                return Gap(cursor, trimmed)
            entries = await self.redis.xrange(self.key, min=f"({cursor}", count=count)
        except (RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from None
        return [from_entry(entry_id, fields) for entry_id, fields in entries]

    async def follow(self, window: Window, retry_delay: float = 0.5) -> None:
        """Feed ``window`` forever: ``XREAD BLOCK`` from the newest id it holds.

        After a lost connection it reads on from the same id: nothing the stream
        got meanwhile is skipped (with pub/sub it would be).
        """
        failures = 0
        while not window.closed:
            try:
                reply = await self._reader.xread({self.key: window.last}, count=500, block=5000)
                failures = 0
            except (RedisError, OSError) as exc:
                failures += 1
                delay = min(retry_delay * 2 ** (failures - 1), 5.0)
                self.trace.state(f"redis XREAD failed ({exc}); again from {window.last} in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            for _, entries in reply or []:
                events = [from_entry(entry_id, fields) for entry_id, fields in entries]
                window.add(events)
                if self.loud:
                    for event in events:
                        self.trace.received(f"redis XREAD {event.id} {event.type} ({event.source})",
                                            peer=REDIS, cid=event.id)

    async def close(self) -> None:
        await self.redis.aclose()
        await self._reader.aclose()

