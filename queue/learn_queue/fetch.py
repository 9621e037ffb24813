"""Reliable fetch, and the three ways a fetched job leaves: done, retry later, dead.

Reading order: job -> client -> jobs -> worker (**fetch**, run, retry) ->
scheduler / reaper -> web.

The "reliable queue" pattern (https://redis.io/docs/latest/commands/lmove/,
section "Pattern: Reliable queue").  A plain ``RPOP`` hands the job to the
worker and forgets it: if the worker dies before the job is done, the job is
gone.  ``LMOVE`` *moves* it, in one atomic step, into the worker's own list::

    LMOVE  lq:queue:default lq:processing:w-1 RIGHT LEFT     take the oldest job
    ... run it ...
    MULTI; LREM lq:processing:w-1 1 <job>; HSET lq:job:<jid> status done ...; EXEC

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

Finishing is one ``MULTI`` with the ``LREM``, so a job is never in two places
(processing list and schedule) nor in none.  The ``LREM`` uses the *exact* text
that was fetched, which is why the worker keeps it.  The time written (``now``)
is the caller's: the worker's clock, which tests can set.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from .client import DONE_TTL, Keys
from .job import Job, encode, random_jid


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
               now: float) -> bool:
    """Success: out of the processing list, status done (kept a day).  False if it was not there."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrem(processing, 1, raw)
        pipe.hset(keys.job(job.jid), mapping={
            "status": "done", "result": json.dumps(result, default=repr), "updated": now})
        pipe.hdel(keys.job(job.jid), "error")
        pipe.expire(keys.job(job.jid), DONE_TTL)
        removed, *_ = await pipe.execute()
    return removed == 1


async def retry_later(redis: aioredis.Redis, keys: Keys, processing: str, raw: bytes, job: Job,
                      run_at: float, now: float) -> bool:
    """A failure with retries left: the updated job goes to lq:schedule at ``run_at``."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrem(processing, 1, raw)
        pipe.zadd(keys.schedule, {encode(job): run_at})
        pipe.hset(keys.job(job.jid), mapping={
            "status": "retrying", "error": _error_text(job), "updated": now})
        removed, *_ = await pipe.execute()
    return removed == 1


async def bury(redis: aioredis.Redis, keys: Keys, processing: str, raw: bytes, job: Job, now: float) -> bool:
    """Out of retries (or unrunnable): the job, with its error, goes to lq:dead at ``now``."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrem(processing, 1, raw)
        pipe.zadd(keys.dead, {encode(job): now})
        pipe.hset(keys.job(job.jid), mapping={"status": "dead", "error": _error_text(job), "updated": now})
        removed, *_ = await pipe.execute()
    return removed == 1


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
