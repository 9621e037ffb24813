"""The worker on a clock of the test's own: retries, scheduled jobs and the reaper, without waiting.

Every time the queue writes or compares (heartbeats, ``updated``, run-at scores,
deaths) comes from the worker's ``clock``.  Here that clock is a number the
test moves forward, so "not yet due" and "due now" are decided by the test,
not by sleeping; Redis and the worker are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random

import pytest
import redis.asyncio as aioredis

from learn_queue.client import Keys, enqueue, job_status
from learn_queue.job import decode
from learn_queue.worker import Worker
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback
J = "learn_queue.jobs."
K = Keys()
T0 = 1_767_225_600.0


class Clock:
    """A unix time that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(private_redis):
    client = aioredis.from_url(private_redis[1], decode_responses=False)
    yield client
    await client.aclose()


@contextlib.asynccontextmanager
async def worker(redis, clock, **options):
    w = Worker(redis, queues=["default"], poll=0.05, clock=clock, rng=random.Random(3),
               trace=Trace("worker", stream=io.StringIO()), **options)
    task = asyncio.create_task(w.run())
    try:
        yield w
    finally:
        w.stop()
        await asyncio.wait_for(task, 10)


async def status_becomes(redis, jid, wanted, timeout=5.0):
    async def reached():
        status = await job_status(redis, jid)
        return status if status and status["status"] == wanted else None

    return await eventually_async(reached, timeout, f"job {jid} {wanted}", interval=0.01)


async def stays(redis, jid, wanted, polls=5):
    """Let the scheduler poll a few times (it polls every 0.05 s): the status must not move."""
    await asyncio.sleep(polls * 0.05)
    assert (await job_status(redis, jid))["status"] == wanted


async def test_a_scheduled_job_runs_when_the_clock_reaches_its_time_and_not_before(redis):
    clock = Clock()
    job = await enqueue(redis, J + "noop", at=T0 + 60, clock=clock)
    async with worker(redis, clock):
        await stays(redis, job.jid, "scheduled")
        clock.now = T0 + 59.9
        await stays(redis, job.jid, "scheduled")
        clock.now = T0 + 60
        status = await status_becomes(redis, job.jid, "done")
    assert status["updated"] == T0 + 60  # the worker's clock, written as is


async def test_each_retry_waits_for_its_run_at_then_the_job_is_dead(redis):
    clock = Clock()
    job = await enqueue(redis, J + "fail", ["no"], retry=2, clock=clock)

    async def scheduled_retry(count):
        members = await redis.zrange(K.schedule, 0, -1, withscores=True)
        return next(((m, at) for m, at in members if decode(m).retry_count == count), None)

    async with worker(redis, clock, backoff_scale=1.0):
        for retry in (1, 2):
            member, run_at = await eventually_async(lambda r=retry: scheduled_retry(r), 5, f"retry {retry}")
            assert run_at >= clock.now + 16  # backoff_seconds: at least count**4 + 15 s
            clock.now = run_at - 0.1
            await stays(redis, job.jid, "retrying")
            clock.now = run_at  # due: the scheduler moves it back, and it fails again
        status = await status_becomes(redis, job.jid, "dead")
    [(member, died_at)] = await redis.zrange(K.dead, 0, -1, withscores=True)
    assert died_at == clock.now and decode(member).retry_count == 3
    assert status["error"] == "ValueError: no"


async def test_the_reaper_judges_a_heartbeat_by_the_clock_even_while_its_key_lives(redis):
    clock = Clock()
    # Another worker, w-old, holds a job; its heartbeat key lives a minute, written at T0.
    await redis.sadd(K.workers, "w-old")
    await redis.set(K.heartbeat("w-old"), repr(T0), ex=60)
    job = await enqueue(redis, J + "noop", clock=clock)
    await redis.lmove(K.queue("default"), K.processing("w-old"), "RIGHT", "LEFT")
    async with worker(redis, clock, dead_after=5.0, heartbeat=0.05) as w:
        await stays(redis, job.jid, "queued")  # w-old's heartbeat is 0 s old: alive, not reaped
        assert await redis.llen(K.processing("w-old")) == 1
        clock.now = T0 + 5.5  # now it is 5.5 s old, over dead_after: the next round reaps it
        await status_becomes(redis, job.jid, "done")
    assert b"w-old" not in await redis.smembers(K.workers)
    assert "reaper: worker w-old is dead; 1 job(s) back to their queues" in w.trace.stream.getvalue()


async def test_without_the_reaper_a_dead_workers_job_stays_where_it_was(redis):
    clock = Clock()
    await redis.sadd(K.workers, "w-old")  # no heartbeat at all: dead by any measure
    job = await enqueue(redis, J + "noop", clock=clock)
    await redis.lmove(K.queue("default"), K.processing("w-old"), "RIGHT", "LEFT")
    async with worker(redis, clock, dead_after=1.0, heartbeat=0.05, reap=False):
        clock.now = T0 + 60
        await stays(redis, job.jid, "queued", polls=10)
    assert await redis.llen(K.processing("w-old")) == 1
