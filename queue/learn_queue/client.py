"""The producer side: put jobs into Redis, and ask how a job is doing.

Reading order: job -> **client** -> jobs -> worker (fetch, run, retry) -> outage ->
scheduler / reaper -> web.

Every key of the queue is named here, by :class:`Keys`, so that one screen
shows the whole data model.  All keys start with a *namespace* (``lq`` unless
``--namespace`` says otherwise), so independent queues can share one Redis
database without seeing each other's jobs::

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

The Lua scripts (here, in reaper.py and web_app.py) are given every key they
touch in ``KEYS``, never build a key name themselves: Redis requires that, so
that it (and Redis Cluster) knows which keys a script uses.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from .job import DEFAULT_QUEUE, DEFAULT_RETRY, Job, encode, new_job

DEFAULT_NAMESPACE = "lq"
# No ":" in a namespace, so that every key of namespace "a" starts with "a:" and
# no other namespace's key can; braces are allowed, for a Redis Cluster hash tag ("{lq}").
NAMESPACE = r"^[A-Za-z0-9_.{}-]{1,64}$"
DONE_TTL = 24 * 3600  # seconds a finished job's status hash is kept


@dataclass(frozen=True)
class Keys:
    """The key names of one namespace; two namespaces share no key."""

    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        if not re.match(NAMESPACE, self.namespace):
            raise ValueError(f"namespace must be 1-64 of A-Z a-z 0-9 _ . - {{ }}: {self.namespace!r}")

    @property
    def queues(self) -> str:
        return f"{self.namespace}:queues"

    @property
    def workers(self) -> str:
        return f"{self.namespace}:workers"

    @property
    def schedule(self) -> str:
        return f"{self.namespace}:schedule"

    @property
    def dead(self) -> str:
        return f"{self.namespace}:dead"

    def queue(self, name: str) -> str:
        return f"{self.namespace}:queue:{name}"

    def processing(self, worker_id: str) -> str:
        return f"{self.namespace}:processing:{worker_id}"

    def heartbeat(self, worker_id: str) -> str:
        return f"{self.namespace}:heartbeat:{worker_id}"

    def job(self, jid: str) -> str:
        return f"{self.namespace}:job:{jid}"


DEFAULT_KEYS = Keys()


def namespace(text: str) -> str:
    """``text`` if it is a valid namespace (for ``--namespace``), else ValueError."""
    return Keys(text).namespace

# Moves one member of a sorted set (lq:schedule, lq:dead) onto its queue, only
# if this call's ZREM removed it: of two racing callers exactly one moves it.
# KEYS: the sorted set, the job's queue list, lq:queues, [the job's status hash]
# ARGV: the member as stored, the text to push, the queue name, now
MOVE_TO_QUEUE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
if KEYS[4] then redis.call('HSET', KEYS[4], 'status', 'queued', 'updated', ARGV[4]) end
return 1
"""


def routing(member: str | bytes) -> tuple[str, str | None]:
    """(queue, jid or None) of a stored job, leniently: a malformed one goes to ``default``.

    The scripts need the keys before they run, so the caller reads these two
    fields first; anything unreadable still moves (to be buried by a worker).
    """
    try:
        data = json.loads(member)
    except ValueError:  # not JSON, or not UTF-8
        return DEFAULT_QUEUE, None
    if not isinstance(data, dict):
        return DEFAULT_QUEUE, None
    queue, jid = data.get("queue"), data.get("jid")
    return (queue if isinstance(queue, str) and queue else DEFAULT_QUEUE,
            jid if isinstance(jid, str) and jid else None)


def _add(pipe: Any, keys: Keys, job: Job, at: float | None, now: float) -> None:
    """Queue the commands that enqueue ``job`` on a MULTI pipeline."""
    pipe.sadd(keys.queues, job.queue)
    if at is None:
        pipe.lpush(keys.queue(job.queue), encode(job))
        status = "queued"
    else:
        pipe.zadd(keys.schedule, {encode(job): at})
        status = "scheduled"
    pipe.hset(keys.job(job.jid), mapping={"status": status, "updated": now})


async def enqueue(redis: aioredis.Redis, func_name: str, args: Iterable[Any] = (), *,
                  queue: str = DEFAULT_QUEUE, at: float | None = None, retry: int = DEFAULT_RETRY,
                  timeout: float | None = None, keys: Keys = DEFAULT_KEYS,
                  clock: Callable[[], float] = time.time) -> Job:
    """Enqueue ``func_name(*args)``; with ``at`` (unix time) it waits in lq:schedule until then."""
    job = new_job(func_name, list(args), queue=queue, retry=retry, timeout=timeout, clock=clock)
    async with redis.pipeline(transaction=True) as pipe:
        _add(pipe, keys, job, at, job.created_at or clock())
        await pipe.execute()
    return job


async def enqueue_many(redis: aioredis.Redis, func_name: str, arg_lists: Iterable[Iterable[Any]], *,
                       queue: str = DEFAULT_QUEUE, retry: int = DEFAULT_RETRY,
                       chunk: int = 1000, keys: Keys = DEFAULT_KEYS,
                       clock: Callable[[], float] = time.time) -> list[Job]:
    """Enqueue many jobs, ``chunk`` per transaction (one round trip each): for tests and benchmarks."""
    jobs = [new_job(func_name, list(args), queue=queue, retry=retry, clock=clock) for args in arg_lists]
    for start in range(0, len(jobs), chunk):
        async with redis.pipeline(transaction=True) as pipe:
            now = clock()
            for job in jobs[start:start + chunk]:
                _add(pipe, keys, job, None, now)
            await pipe.execute()
    return jobs


async def job_status(redis: aioredis.Redis, jid: str, keys: Keys = DEFAULT_KEYS) -> dict[str, Any] | None:
    """The status hash of a job (``result`` decoded from JSON), or None if there is none."""
    raw = await redis.hgetall(keys.job(jid))
    if not raw:
        return None
    status = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in raw.items()}
    if "result" in status:
        status["result"] = json.loads(status["result"])
    if "updated" in status:
        status["updated"] = float(status["updated"])
    return status
