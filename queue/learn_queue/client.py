"""The producer side: put jobs into Redis, and ask how a job is doing.

Reading order: job -> **client** -> jobs -> worker (fetch, run, retry) ->
scheduler / reaper -> web.

Every key of the queue lives here, so that one screen shows the whole data
model (all under the prefix ``lq:``)::

    lq:queues               SET   names of the queues that ever got a job
    lq:queue:<name>         LIST  waiting jobs: LPUSH on the left, workers take from the right
    lq:processing:<worker>  LIST  jobs a worker took and has not finished (see fetch.py)
    lq:workers              SET   worker ids;  lq:heartbeat:<worker>  STRING with a TTL
    lq:schedule             ZSET  score = run-at unix time: scheduled jobs *and* retries
    lq:dead                 ZSET  score = died-at: jobs out of retries, or malformed
    lq:job:<jid>            HASH  status (queued|scheduled|running|done|retrying|dead),
                                  result (JSON), error, updated

Enqueueing is one ``MULTI``/``EXEC`` transaction::

    MULTI
    SADD lq:queues default
    LPUSH lq:queue:default {"class":"learn_queue.jobs.checksum",...}     (or ZADD lq:schedule)
    HSET lq:job:<jid> status queued updated 1767...
    EXEC

so a job never exists without its status, nor a status without its job.  Any
program that speaks Redis can enqueue: ``redis-cli LPUSH lq:queue:default '<job
JSON>'`` works too (the status hash is then simply missing until a worker runs it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from .job import DEFAULT_QUEUE, DEFAULT_RETRY, Job, encode, new_job

PREFIX = "lq:"
QUEUES = PREFIX + "queues"
WORKERS = PREFIX + "workers"
SCHEDULE = PREFIX + "schedule"
DEAD = PREFIX + "dead"
DONE_TTL = 24 * 3600  # seconds a finished job's status hash is kept


def queue_key(name: str) -> str:
    return f"{PREFIX}queue:{name}"


def processing_key(worker_id: str) -> str:
    return f"{PREFIX}processing:{worker_id}"


def heartbeat_key(worker_id: str) -> str:
    return f"{PREFIX}heartbeat:{worker_id}"


def status_key(jid: str) -> str:
    return f"{PREFIX}job:{jid}"


def _add(pipe: Any, job: Job, at: float | None, now: float) -> None:
    """Queue the commands that enqueue ``job`` on a MULTI pipeline."""
    pipe.sadd(QUEUES, job.queue)
    if at is None:
        pipe.lpush(queue_key(job.queue), encode(job))
        status = "queued"
    else:
        pipe.zadd(SCHEDULE, {encode(job): at})
        status = "scheduled"
    pipe.hset(status_key(job.jid), mapping={"status": status, "updated": now})


async def enqueue(redis: aioredis.Redis, func_name: str, args: Iterable[Any] = (), *,
                  queue: str = DEFAULT_QUEUE, at: float | None = None, retry: int = DEFAULT_RETRY,
                  timeout: float | None = None) -> Job:
    """Enqueue ``func_name(*args)``; with ``at`` (unix time) it waits in lq:schedule until then."""
    job = new_job(func_name, list(args), queue=queue, retry=retry, timeout=timeout)
    async with redis.pipeline(transaction=True) as pipe:
        _add(pipe, job, at, job.created_at or time.time())
        await pipe.execute()
    return job


async def enqueue_many(redis: aioredis.Redis, func_name: str, arg_lists: Iterable[Iterable[Any]], *,
                       queue: str = DEFAULT_QUEUE, retry: int = DEFAULT_RETRY,
                       chunk: int = 1000) -> list[Job]:
    """Enqueue many jobs, ``chunk`` per transaction (one round trip each): for tests and benchmarks."""
    jobs = [new_job(func_name, list(args), queue=queue, retry=retry) for args in arg_lists]
    for start in range(0, len(jobs), chunk):
        async with redis.pipeline(transaction=True) as pipe:
            now = time.time()
            for job in jobs[start:start + chunk]:
                _add(pipe, job, None, now)
            await pipe.execute()
    return jobs


async def job_status(redis: aioredis.Redis, jid: str) -> dict[str, Any] | None:
    """The status hash of a job (``result`` decoded from JSON), or None if there is none."""
    raw = await redis.hgetall(status_key(jid))
    if not raw:
        return None
    status = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in raw.items()}
    if "result" in status:
        status["result"] = json.loads(status["result"])
    if "updated" in status:
        status["updated"] = float(status["updated"])
    return status
