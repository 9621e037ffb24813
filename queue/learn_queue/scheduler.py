"""The scheduler: moves jobs whose time has come from lq:schedule back to their queue.

Reading order: job -> client -> jobs -> worker (fetch, run, retry) -> outage ->
**scheduler** / reaper -> web.

One sorted set holds both jobs enqueued for later (``enqueue(..., at=...)``) and
failed jobs waiting for their retry; the score is the unix time to run at
(https://redis.io/docs/latest/commands/zrangebyscore/)::

    ZADD lq:schedule 1767000030.5 <job>                       (client.py, fetch.py)
    ZRANGEBYSCORE lq:schedule -inf <now> LIMIT 0 100          what is due
    ZREM lq:schedule <job>                                    move it (one script): if removed,
    LPUSH lq:queue:<queue> <job>; SADD lq:queues <queue>; HSET lq:job:<jid> status queued updated <now>

Every worker polls, every ``--poll`` seconds.  With several workers, two could
read the same due job and both push it: a duplicate.  So each due job moves in
one Lua script (client.MOVE_TO_QUEUE), which Redis runs atomically: it pushes the
job only if its own ``ZREM`` removed it, and ``ZREM`` answers 1 to exactly one
caller, so a due job is moved exactly once, by whichever worker got there first.
(The alternative is WATCH/MULTI with a retry loop; a script is shorter and never
retries.)  The read stays outside the script because a script must be given
every key it touches, and the queue and status keys depend on each job's
``queue`` and ``jid`` fields; the scripts of one batch go in one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from .client import MOVE_TO_QUEUE, Keys, routing
from .outage import Outage, Stopped


class Scheduler:
    """Polls lq:schedule; ``move_due()`` is one round, ``run()`` loops until stopped."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, poll: float, batch: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis, self.keys, self.poll, self.batch = redis, keys, poll, batch
        self.clock = clock  # unix time: what "due" is measured against (a test sets it)
        self._move = redis.register_script(MOVE_TO_QUEUE)

    async def move_due(self, now: float | None = None) -> int:
        """Move every due job (in batches); return how many moved."""
        now = self.clock() if now is None else now
        total = 0
        while True:
            due = await self.redis.zrangebyscore(self.keys.schedule, "-inf", now, start=0, num=self.batch)
            if not due:
                return total
            async with self.redis.pipeline(transaction=False) as pipe:
                for member in due:
                    queue, jid = routing(member)
                    keys = [self.keys.schedule, self.keys.queue(queue), self.keys.queues]
                    keys += [self.keys.job(jid)] if jid else []
                    await self._move(keys=keys, args=[member, member, queue, repr(now)], client=pipe)
                moved = sum(await pipe.execute())
            total += moved
            if len(due) < self.batch or not moved:  # none moved: another worker is on this batch
                return total

    async def run(self, stop: asyncio.Event, outage: Outage) -> None:
        """Move due jobs every ``poll`` seconds until ``stop`` (an event: see ``Reaper.run``).

        While Redis is unreachable, ``outage`` retries each round; a round
        retried after a lost reply moves nothing twice (the script's ``ZREM``).
        """
        while not stop.is_set():
            try:
                await outage.call("scheduler", self.move_due, stop=stop)
            except Stopped:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)
