"""Reliable fetch, and the three ways a fetched job leaves: done, retry later, dead.

Reading order: job -> client -> jobs -> worker (**fetch**, run, retry) -> outage ->
scheduler / reaper -> web.

The "reliable queue" pattern (https://redis.io/docs/latest/commands/lmove/,
section "Pattern: Reliable queue").  A plain ``RPOP`` hands the job to the
worker and forgets it: if the worker dies before the job is done, the job is
gone.  ``LMOVE`` *moves* it, in one atomic step, into the worker's own list::

    LMOVE  lq:queue:default lq:processing:w-1 RIGHT LEFT     take the oldest job
    ... run it ...
    LREM lq:processing:w-1 1 <job>                           one script: if that removed it,
    HSET lq:job:<jid> status done result <json> updated <now> ack <run>

At every instant the job is in exactly one list, so a crash loses nothing: the
reaper (reaper.py) moves a dead worker's processing list back to the queues.
The price is *at-least-once*: a job that finished just before the crash, but
whose ``LREM`` never ran, runs again.  Hence idempotent jobs (jobs.py).

Strict priority.  ``BLMOVE`` blocks on ONE source list (unlike ``BRPOP``, which
takes several keys), so we cannot block on all queues at once.  Each fetch
therefore tries ``LMOVE`` on every queue in priority order (critical, default,
low) and takes the first job found; only if all are empty does it block, for at
most ``--poll`` seconds, on the *highest-priority* queue: an urgent job wakes
the worker at once, a job in a lower queue waits at most ``--poll`` seconds.

Finishing is one Lua script (atomic) that starts with the ``LREM`` and writes
only if that removed the job, so a job is never in two places (processing list
and schedule) nor in none.  The ``LREM`` uses the *exact* text that was
fetched, which is why the worker keeps it.  The time written (``now``) is the
caller's: the worker's clock, which tests can set.  Each finish answers:

- ``OURS`` (1): it was in our processing list; now it is done, scheduled or dead,
  and ``ack`` in its status hash names this *run* (the worker's id and a random
  part, one per fetched job);
- ``LATE`` (0): it was not.  A worker cut off from Redis (or paused) longer than
  ``--dead-after`` is declared dead: the reaper gave the job back and another
  run owns it now.  We write nothing of ours (no result over the other run's,
  no second copy in lq:schedule or lq:dead), only ``late:<run>`` = now in its
  status hash, and the worker traces "no longer ours";
- ``TAKEN_BACK`` (2, done only): reaped, but still waiting in its queue, never
  fetched again: we take it out of the queue (``LREM``) and mark it done, so
  finished work does not run twice.

A finish retried after a lost reply (outage.py) finds the job gone from the
list, as a reaped one; ``ack`` tells the two apart: if it names our run, the
first try went through, and the answer is ``OURS`` again.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from .client import DONE_TTL, Keys, routing
from .job import Job, encode, random_jid

OURS, LATE, TAKEN_BACK = 1, 0, 2

# KEYS: our processing list, the job's status hash, (done) its queue | (retry, dead) the sorted set
# ARGV: the job as fetched, our run, now, ...
_HELD = """
local function held()  -- 'yes', 'acked' (an earlier try of this call went through) or 'no'
  if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then return 'yes' end
  if redis.call('HGET', KEYS[2], 'ack') == ARGV[2] then return 'acked' end
  return 'no'
end
local function late()  -- taken from us (reaped): note it, touch nothing else
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSETNX', KEYS[2], 'late:' .. ARGV[2], ARGV[3]) end
  return 0
end
local h = held()
if h == 'acked' then return 1 end
"""
# ARGV: ..., result (JSON), TTL of the status hash
DONE = _HELD + """
local answer = 1
if h == 'no' then
  if redis.call('LREM', KEYS[3], 1, ARGV[1]) == 0 then return late() end
  answer = 2
end
redis.call('HSET', KEYS[2], 'status', 'done', 'result', ARGV[4], 'updated', ARGV[3], 'ack', ARGV[2])
redis.call('HDEL', KEYS[2], 'error')
redis.call('EXPIRE', KEYS[2], ARGV[5])
return answer
"""
# ARGV: ..., the job as stored next, its score, status (retrying | dead), error
PARK = _HELD + """
if h == 'no' then return late() end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
redis.call('HSET', KEYS[2], 'status', ARGV[6], 'error', ARGV[7], 'updated', ARGV[3], 'ack', ARGV[2])
return 1
"""


async def fetch(redis: aioredis.Redis, keys: Keys, queues: list[str], processing: str,
                block: float) -> tuple[str, bytes] | None:
    """Move the next job into ``processing``; return (queue, exact text), or None after ``block`` s."""
    for name in queues:
        raw = await redis.lmove(keys.queue(name), processing, "RIGHT", "LEFT")
        if raw is not None:
            return name, raw
    if block <= 0:
        return None
    raw = await redis.blmove(keys.queue(queues[0]), processing, block, "RIGHT", "LEFT")
    return None if raw is None else (queues[0], raw)


def _error_text(job: Job) -> str:
    return f"{job.error_class}: {job.error_message}"


async def done(redis: aioredis.Redis, keys: Keys, processing: str, raw: bytes, job: Job, result: Any,
               now: float, run: str) -> int:
    """Success: out of the processing list, status done (kept a day).  OURS, LATE or TAKEN_BACK."""
    queue, _ = routing(raw)  # where the reaper would have put it back (the job's own queue)
    return await redis.register_script(DONE)(
        keys=[processing, keys.job(job.jid), keys.queue(queue)],
        args=[raw, run, now, json.dumps(result, default=repr), DONE_TTL])


async def retry_later(redis: aioredis.Redis, keys: Keys, processing: str, raw: bytes, job: Job,
                      run_at: float, now: float, run: str) -> int:
    """A failure with retries left: the updated job goes to lq:schedule at ``run_at``.  OURS or LATE."""
    return await redis.register_script(PARK)(
        keys=[processing, keys.job(job.jid), keys.schedule],
        args=[raw, run, now, encode(job), run_at, "retrying", _error_text(job)])


async def bury(redis: aioredis.Redis, keys: Keys, processing: str, raw: bytes, job: Job, now: float,
               run: str) -> int:
    """Out of retries (or unrunnable): the job, with its error, goes to lq:dead at ``now``.  OURS or LATE."""
    return await redis.register_script(PARK)(
        keys=[processing, keys.job(job.jid), keys.dead],
        args=[raw, run, now, encode(job), now, "dead", _error_text(job)])


def malformed_job(raw: bytes, queue: str, error: Exception, now: float) -> Job:
    """A stand-in job for a payload we cannot decode, so that lq:dead holds only valid jobs.

    The original bytes are kept in the extra field ``payload`` for a human to
    look at; the jid is the payload's own if it has a readable one.
    """
    text = raw.decode("utf-8", "replace")
    jid = None
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("jid"), str) and data["jid"]:
            jid = data["jid"]
    except ValueError:
        pass
    return Job(func="<malformed>", args=[], jid=jid or random_jid(), queue=queue, retry=0,
               error_class=type(error).__name__, error_message=str(error), failed_at=now,
               extra={"payload": text})
