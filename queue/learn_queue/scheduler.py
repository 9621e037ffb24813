"""The scheduler: moves jobs whose time has come from lq:schedule back to their queue.

Reading order: job -> client -> jobs -> worker (fetch, run, retry) ->
**scheduler** / reaper -> web.

One sorted set holds both jobs enqueued for later (``enqueue(..., at=...)``) and
failed jobs waiting for their retry; the score is the unix time to run at
(https://redis.io/docs/latest/commands/zrangebyscore/)::

    ZADD lq:schedule 1767000030.5 <job>                       (client.py, fetch.py)
    ZRANGEBYSCORE lq:schedule -inf <now> LIMIT 0 100          what is due
    ZREM lq:schedule <job>; LPUSH lq:queue:<queue> <job>       move it

Every worker polls, every ``--poll`` seconds.  With several workers, two could
read the same due job and both push it: a duplicate.  So the read, the ZREM and
the LPUSH run inside one Lua script, which Redis executes atomically: no other
command runs in between, so a due job is moved exactly once, by whichever worker
got there first.  (The alternative is WATCH/MULTI with a retry loop; a script is
shorter and never retries.)  The script builds key names from the prefix, which
is fine on one Redis server but not in Redis Cluster, where a script must be
given every key it touches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis

from .client import PREFIX, SCHEDULE

MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local queue, jid = 'default', nil
  local ok, job = pcall(cjson.decode, member)
  if ok and type(job) == 'table' then
    if type(job.queue) == 'string' then queue = job.queue end
    if type(job.jid) == 'string' then jid = job.jid end
  end
  redis.call('SADD', ARGV[3] .. 'queues', queue)
  redis.call('LPUSH', ARGV[3] .. 'queue:' .. queue, member)
  if jid then redis.call('HSET', ARGV[3] .. 'job:' .. jid, 'status', 'queued', 'updated', ARGV[1]) end
end
return #due
"""


class Scheduler:
    """Polls lq:schedule; ``move_due()`` is one round, ``run()`` loops until cancelled."""

    def __init__(self, redis: aioredis.Redis, poll: float, batch: int = 100) -> None:
        self.redis, self.poll, self.batch = redis, poll, batch
        self._script = redis.register_script(MOVE_DUE)

    async def move_due(self, now: float | None = None) -> int:
        """Move every due job (in batches); return how many moved."""
        now = time.time() if now is None else now
        total = 0
        while True:
            moved = int(await self._script(keys=[SCHEDULE], args=[repr(now), self.batch, PREFIX]))
            total += moved
            if moved < self.batch:
                return total

    async def run(self, stop: asyncio.Event) -> None:
        """Move due jobs every ``poll`` seconds until ``stop`` (an event: see ``Reaper.run``)."""
        while not stop.is_set():
            await self.move_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)
