"""Heartbeats, and the reaper that gives a dead worker's jobs back to the queues.

Reading order: job -> client -> jobs -> worker (fetch, run, retry) -> outage ->
scheduler / **reaper** -> web.

A worker proves it is alive by refreshing a key with a time-to-live::

    SET lq:heartbeat:w-1 <unix time> PX 5000        every --heartbeat seconds,
    SADD lq:workers w-1                             both, in one round trip

A worker killed with SIGKILL (or a machine that lost power) cannot clean up:
its jobs stay in ``lq:processing:w-1``.  Every live worker also runs the reaper:
for each id in ``lq:workers`` whose heartbeat key has expired, or holds a time
older than ``--dead-after`` seconds, it moves that worker's processing list back
to the queues and forgets the worker.  Each job moves in one atomic step (a Lua
script: ``LREM`` it from the processing list and, only if that removed it,
``RPUSH`` it onto its queue, on the right, so it is fetched next), so two reapers
racing move every job once.  The script is given its keys, so the reaper first
reads the list (``LRANGE``) to learn each job's queue and jid.

The whole scheme is *at-least-once*: a job the dead worker had finished, but not
yet removed, runs again.  And a worker that is merely slow to heartbeat (its
event loop blocked, a long GC pause, a network partition) is declared dead while
it still runs its jobs: they run twice.  ``--dead-after`` must comfortably exceed
``--heartbeat``; the worker never blocks its loop (sync jobs run in threads).
Such a worker, back, finds its jobs gone from its processing list when it
finishes them, and says so (fetch.py: ``LATE``, "no longer ours"); its next
heartbeat's ``SADD`` answers 1, not 0: it had been removed from lq:workers, and
is back in it, so a later crash of it is reaped too.

Nobody can heartbeat while Redis is down.  After an outage longer than
``--dead-after``, every heartbeat key has expired (Redis keeps expiry times as
unix times, across a restart), and the first reaper round would declare every
other worker dead.  So a worker does not reap until ``--dead-after`` seconds
after its own last failure to reach Redis: by then every live worker has
beaten again.
Comparing a heartbeat's time with ours assumes the machines' clocks agree; the
TTL alone does not, which is why an expired key is the main signal.  The time
is the worker's ``clock`` (``time.time`` unless a test gives another), and the
decision itself is the pure :func:`heartbeat_is_dead`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from .client import Keys, routing
from .outage import Outage, Stopped

# KEYS: a processing list, the job's queue, [the job's status hash]
# ARGV: the member as stored, now
RECOVER = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
if KEYS[3] then redis.call('HSET', KEYS[3], 'status', 'queued', 'updated', ARGV[2]) end
return 1
"""


def heartbeat_is_dead(beat: bytes | str | None, now: float, dead_after: float) -> bool:
    """Pure: a worker is dead if its heartbeat key expired (None) or holds a time too old."""
    return beat is None or now - float(beat) > dead_after


class Reaper:
    """Heartbeat for ``worker_id`` and reaping of the others; see the module docstring."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, worker_id: str, *, heartbeat: float,
                 dead_after: float, on_reaped: Callable[[str, int], None] = lambda w, n: None,
                 on_rejoined: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.time,
                 reap: bool = True) -> None:
        self.redis, self.keys, self.worker_id = redis, keys, worker_id
        self.heartbeat, self.dead_after = heartbeat, dead_after
        self.on_reaped, self.on_rejoined = on_reaped, on_rejoined
        self.clock = clock  # unix time, written in heartbeats and compared with them
        self.reap = reap  # False (the worker's --no-reaper): heartbeats only, nobody is ever reaped
        self._recover = redis.register_script(RECOVER)

    async def beat(self) -> bool:
        """Heartbeat, then (re)join lq:workers, so no reaper ever sees us without a heartbeat.

        True if we had to rejoin: we were not in lq:workers (the first beat, or reaped).
        """
        ttl_ms = max(1, int(self.dead_after * 1000))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.heartbeat(self.worker_id), repr(self.clock()), px=ttl_ms)
            pipe.sadd(self.keys.workers, self.worker_id)
            _, joined = await pipe.execute()
        return joined == 1

    async def register(self) -> None:
        await self.beat()

    async def recover(self, worker_id: str, members: list[bytes] | None = None) -> int:
        """Move every job in ``worker_id``'s processing list (or those of ``members``) back to its queue.

        Newest first (the list's left end), each ``RPUSH``ed, so the oldest
        in-flight job ends up rightmost in its queue: the next one fetched.
        A member no longer in the list is left alone (the script's ``LREM``).
        """
        processing = self.keys.processing(worker_id)
        if members is None:
            members = await self.redis.lrange(processing, 0, -1)
        if not members:
            return 0
        now = repr(self.clock())
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in members:
                queue, jid = routing(member)
                keys = [processing, self.keys.queue(queue)] + ([self.keys.job(jid)] if jid else [])
                await self._recover(keys=keys, args=[member, now], client=pipe)
            return sum(await pipe.execute())

    async def unregister(self) -> int:
        """On shutdown: give back what we still hold, leave lq:workers, drop the heartbeat."""
        moved = await self.recover(self.worker_id)
        await self.redis.srem(self.keys.workers, self.worker_id)
        await self.redis.delete(self.keys.heartbeat(self.worker_id), self.keys.processing(self.worker_id))
        return moved

    async def is_dead(self, worker_id: str, now: float) -> bool:
        return heartbeat_is_dead(await self.redis.get(self.keys.heartbeat(worker_id)), now, self.dead_after)

    async def reap_once(self) -> dict[str, int]:
        """One round: {dead worker id: jobs given back}."""
        reaped: dict[str, int] = {}
        if not self.reap:
            return reaped
        now = self.clock()
        for raw in await self.redis.smembers(self.keys.workers):
            worker = raw.decode() if isinstance(raw, bytes) else raw
            if worker == self.worker_id or not await self.is_dead(worker, now):
                continue
            moved = await self.recover(worker)
            await self.redis.srem(self.keys.workers, worker)
            reaped[worker] = moved
            self.on_reaped(worker, moved)
        return reaped

    async def run(self, stop: asyncio.Event, outage: Outage) -> None:
        """Heartbeat every ``heartbeat`` s; reap about every ``dead_after / 2`` s; until ``stop``.

        A stop event, not task cancellation: redis-py can swallow a cancel that
        lands in a read, and the loop would then never end.  While Redis is
        unreachable, ``outage`` retries each call (outage.py).
        """
        last_reap = 0.0
        while not stop.is_set():
            try:
                if await outage.call("heartbeat", self.beat, stop=stop):
                    self.on_rejoined()
                now = time.monotonic()
                others_could_beat = outage.last_failure is None or \
                    now - outage.last_failure >= self.dead_after
                if now - last_reap >= self.dead_after / 2 and others_could_beat:
                    last_reap = now
                    await outage.call("reaper", self.reap_once, stop=stop)
            except Stopped:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.heartbeat)
