"""The fast worker (fast_worker.py) against the lesson's: the same jobs leave the same records.

A mixed batch (no-ops, recorded effects, results from a sync job in a thread,
failures with and without retries, a timeout, an unknown function, a malformed
payload) runs once through :class:`Worker` and once, from the same exact job
texts, through :class:`FastWorker`, on one clock that does not move.  Every
status hash (but ``ack``, which names a random run), the dead set, the
schedule, the effects and the queues must then be equal.  The SIGKILL test
runs the fast worker as a process and kills it with 10,000 jobs in flight.
"""

from __future__ import annotations

import asyncio
import io
import json
import random

import pytest
import redis.asyncio as aioredis

from learn_queue.client import Keys, enqueue, enqueue_many
from learn_queue.fast_worker import FastWorker, fetch_many
from learn_queue.worker import Worker
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback
J = "learn_queue.jobs."
K = Keys()
T0 = 1_767_225_600.0


@pytest.fixture
async def redis(private_redis):
    client = aioredis.from_url(private_redis[1], decode_responses=False)
    yield client
    await client.aclose()


async def enqueue_mix(redis) -> list[str]:
    clock = lambda: T0  # noqa: E731
    jids = [j.jid for j in await enqueue_many(redis, J + "noop", [[]] * 40)]
    for n in range(10):
        jids.append((await enqueue(redis, J + "record", ["effects", n], clock=clock)).jid)
        jids.append((await enqueue(redis, J + "checksum", [f"text {n}"], clock=clock)).jid)
    for retry in (0, 0, 1, 1, 2):
        jids.append((await enqueue(redis, J + "fail", [f"boom {retry}"], retry=retry, clock=clock)).jid)
    jids.append((await enqueue(redis, J + "sleep", [5], retry=0, timeout=0.05, clock=clock)).jid)
    jids.append((await enqueue(redis, J + "no_such_job", [], clock=clock)).jid)
    await redis.lpush(K.queue("default"), json.dumps({"jid": "b" * 24, "class": 7}))  # malformed
    jids.append("b" * 24)
    return jids


async def run_to_the_end(redis, kind, jids: list[str]) -> dict:
    """Run ``kind`` until every job is done or dead; return what it left in Redis."""
    w = kind(redis, queues=["default"], poll=0.05, clock=lambda: T0, rng=random.Random(3), backoff_scale=0,
             quiet=True, trace=Trace("worker", stream=io.StringIO()))
    task = asyncio.create_task(w.run())

    async def settled():
        statuses = [await redis.hget(K.job(jid), "status") for jid in jids]
        return all(s in (b"done", b"dead") for s in statuses)

    try:
        await eventually_async(settled, 20, "every job done or dead", interval=0.02)
    finally:
        w.stop()
        await asyncio.wait_for(task, 10)
    hashes = {}
    for jid in jids:
        record = await redis.hgetall(K.job(jid))
        record.pop(b"ack", None)
        hashes[jid] = (record, await redis.ttl(K.job(jid)) > 0)
    return {"hashes": hashes, "finished": w.finished,
            "dead": await redis.zrange(K.dead, 0, -1, withscores=True),
            "schedule": await redis.zrange(K.schedule, 0, -1, withscores=True),
            "effects": await redis.smembers("effects"), "values": await redis.hgetall("effects:values"),
            "queue": await redis.llen(K.queue("default")), "processing": await redis.keys("lq:processing:*")}


async def test_the_fast_worker_leaves_what_the_lesson_leaves(redis):
    jids = await enqueue_mix(redis)
    texts = await redis.lrange(K.queue("default"), 0, -1)
    plain = await run_to_the_end(redis, Worker, jids)
    await redis.flushall()
    await redis.rpush(K.queue("default"), *texts)  # the same exact texts, in the same order
    fast = await run_to_the_end(redis, FastWorker, jids)
    assert fast == plain
    assert plain["finished"] == 60 and len(plain["dead"]) == 8 and plain["queue"] == 0


async def test_fetch_many_takes_a_lower_queue_only_for_what_the_higher_lacks(redis):
    await enqueue_many(redis, J + "noop", [[]] * 3, queue="critical")
    await enqueue_many(redis, J + "noop", [[]] * 5, queue="low")
    got = await fetch_many(redis, K, ["critical", "low"], K.processing("w"), 6, 0)
    assert [queue for queue, _ in got] == ["critical"] * 3 + ["low"] * 3
    assert await redis.llen(K.processing("w")) == 6
    assert await fetch_many(redis, K, ["critical"], K.processing("w"), 4, 0.05) == []


async def test_the_fast_worker_runs_again_after_redis_forgot_its_script(redis):
    await enqueue_many(redis, J + "noop", [[]] * 5)
    w = FastWorker(redis, queues=["default"], poll=0.05, quiet=True,
                   trace=Trace("worker", stream=io.StringIO()))
    task = asyncio.create_task(w.run())
    try:
        await eventually_async(lambda: _finished(w, 5), 10, "5 jobs done", interval=0.02)
        await redis.script_flush()  # as after a restart: scripts are not persisted
        await enqueue_many(redis, J + "noop", [[]] * 5)
        await eventually_async(lambda: _finished(w, 10), 10, "10 jobs done", interval=0.02)
    finally:
        w.stop()
        await asyncio.wait_for(task, 10)


async def _finished(w, count):
    return w.finished >= count


def fast_worker(procs, url, name, *extra):
    return procs.python("learn_queue.fast_worker", "--redis-url", url, "--worker-id", name, "--poll", "0.05",
                        "--concurrency", "200", "--dead-after", "1", *extra, name=name,
                        ready_line="fetching")


@pytest.mark.slow
async def test_sigkill_of_a_fast_worker_with_10000_jobs_in_flight_loses_none(redis, private_redis, procs):
    url = private_redis[1]
    jobs = await enqueue_many(redis, J + "record", [["done"]] * 10_000)
    a = fast_worker(procs, url, "w-a", "--quiet")

    async def some_done():
        return await redis.scard("done") >= 3000

    await eventually_async(some_done, 15, "3000 jobs done", interval=0.01)
    a.kill()
    assert await redis.llen("lq:processing:w-a") > 0, "worker A held no job when killed: proves nothing"
    # Not quiet, so that the reaper's line shows (traced jobs take the lesson's path; fetches are batched).
    b = fast_worker(procs, url, "w-b")

    async def all_done():
        return await redis.scard("done") >= 10_000

    await eventually_async(all_done, 30, "10000 jobs done", interval=0.05)
    b.wait_line(r"reaper: worker w-a is dead; \d+ job\(s\) back", timeout=5)
    assert await redis.smembers("done") == {j.jid.encode() for j in jobs}
    assert await redis.llen("done:runs") >= 10_000
    assert await redis.llen("lq:processing:w-a") == 0
