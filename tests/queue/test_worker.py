"""The worker against a real redis-server: jobs run, fail, retry, die, and are never lost.

Most tests run a :class:`Worker` in-process (fast, and its trace is captured);
the crash tests start real worker processes (``python -m learn_queue.worker``)
and kill them with SIGKILL or SIGTERM, and one restarts Redis itself.  Jobs
enqueued with ``redis-cli`` (test_documented_commands.py) check that our format
is all a producer needs; test_clock.py drives retries, the schedule and the
reaper with a clock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import tempfile
import time

import pytest
import redis.asyncio as aioredis

from learn_queue.client import Keys, enqueue, enqueue_many, job_status
from learn_queue.job import decode
from learn_queue.worker import Worker
from wirelab_common.ports import free_port
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback
J = "learn_queue.jobs."
K = Keys()  # the default namespace, lq


@pytest.fixture
async def redis(private_redis):
    client = aioredis.from_url(private_redis[1], decode_responses=False)
    yield client
    await client.aclose()


@contextlib.asynccontextmanager
async def worker(redis, queues=("default",), **options):
    """An in-process worker for the block; yields (worker, its trace text)."""
    stream = io.StringIO()
    options.setdefault("poll", 0.05)
    w = Worker(redis, queues=list(queues), trace=Trace("worker", stream=stream), **options)
    task = asyncio.create_task(w.run())
    try:
        yield w, stream
    finally:
        w.stop()
        await asyncio.wait_for(task, 10)


async def wait_status(redis, jid, wanted, timeout=10.0):
    async def reached():
        status = await job_status(redis, jid)
        return status if status and status["status"] == wanted else None

    return await eventually_async(reached, timeout, f"job {jid} {wanted}", interval=0.01)


async def wait_count(redis, key, count, timeout=15.0):
    async def counted():
        return await redis.scard(key) >= count

    await eventually_async(counted, timeout, f"{count} members in {key}")


def cli_worker(procs, url, name, *extra):
    return procs.python("learn_queue.worker", "--redis-url", url, "--worker-id", name, "--poll", "0.05",
                        *extra, name=name, ready_line="fetching")


async def test_jobs_run_and_their_status_becomes_done_with_the_result(redis, tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"abc")
    a = await enqueue(redis, J + "checksum", [str(path)])
    b = await enqueue(redis, J + "thumbnail", [32])
    c = await enqueue(redis, J + "record", ["seen"])
    assert (await job_status(redis, a.jid))["status"] == "queued"
    async with worker(redis) as (_, trace):
        done_a = await wait_status(redis, a.jid, "done")
        done_b = await wait_status(redis, b.jid, "done")
        await wait_status(redis, c.jid, "done")
    sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert done_a["result"] == {"file": str(path), "sha256": sha}
    assert (done_b["result"]["width"], done_b["result"]["height"]) == (32, 24)
    assert await redis.smembers("seen") == {c.jid.encode()}
    assert 0 < await redis.ttl(f"lq:job:{a.jid}") <= 24 * 3600
    assert f"job {a.jid} checksum (queue default)" in trace.getvalue()
    assert f"job {a.jid} done in" in trace.getvalue()


async def test_strict_priority_runs_every_critical_job_before_any_low_one(redis):
    low = [await enqueue(redis, J + "record", ["order"], queue="low") for _ in range(5)]
    crit = [await enqueue(redis, J + "record", ["order"], queue="critical") for _ in range(5)]
    async with worker(redis, ["critical", "default", "low"], concurrency=1):
        await wait_count(redis, "order", 10)
    runs = [jid.decode() for jid in await redis.lrange("order:runs", 0, -1)]
    assert runs == [j.jid for j in crit] + [j.jid for j in low]  # and FIFO within a queue


async def run_sleepers(redis, concurrency):
    jobs = [await enqueue(redis, J + "sleep", [0.2]) for _ in range(10)]
    started = time.monotonic()
    async with worker(redis, concurrency=concurrency):
        for job in jobs:
            await wait_status(redis, job.jid, "done")
    return time.monotonic() - started


async def test_concurrency_runs_jobs_side_by_side(redis):
    parallel = await run_sleepers(redis, 10)
    serial = await run_sleepers(redis, 1)
    assert parallel < 1.0 < 2.0 <= serial


async def test_a_failing_job_is_retried_with_growing_delays_then_dead_with_its_error(redis):
    job = await enqueue(redis, J + "fail", ["disk full"], retry=3)
    seen: dict[int, float] = {}  # retry_count -> delay until its scheduled run
    async with worker(redis, backoff_scale=0.01) as (_, trace):
        async with asyncio.timeout(10):
            while not await redis.zcard(K.dead):
                for member, score in await redis.zrange(K.schedule, 0, -1, withscores=True):
                    retried = decode(member)
                    seen[retried.retry_count] = score - (retried.retried_at or retried.failed_at)
                await asyncio.sleep(0.005)
    assert sorted(seen) == [1, 2, 3]
    assert seen[1] < seen[2] < seen[3]
    assert seen[3] == pytest.approx(0.01 * (3**4 + 15), abs=0.01 * 40)
    [(member, _)] = await redis.zrange(K.dead, 0, -1, withscores=True)
    dead = decode(member)
    assert (dead.jid, dead.retry_count, dead.error_class, dead.error_message) == (
        job.jid, 4, "ValueError", "disk full")
    assert dead.failed_at < dead.retried_at
    status = await job_status(redis, job.jid)
    assert (status["status"], status["error"]) == ("dead", "ValueError: disk full")
    assert "retry 1/3 in" in trace.getvalue() and f"job {job.jid} DEAD after 3 retries" in trace.getvalue()


async def test_a_malformed_payload_goes_straight_to_dead_and_the_worker_keeps_going(redis):
    await redis.lpush(K.queue("default"), b"{not json")
    await redis.lpush(K.queue("default"), '{"class": "os.system", "args": ["true"], "jid": "evil1"}')
    async with worker(redis) as (_, trace):
        good = await enqueue(redis, J + "noop")
        await wait_status(redis, good.jid, "done")
    dead = {decode(m).func: decode(m) for m in await redis.zrange(K.dead, 0, -1)}
    assert dead["<malformed>"].error_class == "JobFormatError"
    assert "job is not JSON" in dead["<malformed>"].error_message
    assert dead["<malformed>"].extra["payload"] == "{not json"
    assert dead["os.system"].error_class == "UnknownJobError"
    assert "no registered job function 'os.system'" in dead["os.system"].error_message
    assert (await job_status(redis, "evil1"))["status"] == "dead"
    assert "DEAD at once" in trace.getvalue()


async def test_a_job_that_exceeds_its_timeout_counts_as_a_failure(redis):
    job = await enqueue(redis, J + "sleep", [5], retry=0, timeout=0.3)
    async with worker(redis):
        status = await wait_status(redis, job.jid, "dead", timeout=3)
    assert status["error"] == "TimeoutError: no result after 0.3 s"


@pytest.mark.slow
async def test_sigkill_with_10000_jobs_in_flight_loses_none(redis, private_redis, procs):
    url = private_redis[1]
    jobs = await enqueue_many(redis, J + "record", [["done"]] * 10_000)
    a = cli_worker(procs, url, "w-a", "--concurrency", "200", "--quiet", "--dead-after", "1")
    await wait_count(redis, "done", 3000)
    a.kill()
    in_flight = await redis.llen("lq:processing:w-a")
    assert in_flight > 0, "worker A held no job when killed: the test proves nothing"
    b = cli_worker(procs, url, "w-b", "--concurrency", "200", "--dead-after", "1")
    await wait_count(redis, "done", 10_000, timeout=30)
    b.wait_line(r"reaper: worker w-a is dead; \d+ job\(s\) back", timeout=5)
    assert await redis.smembers("done") == {j.jid.encode() for j in jobs}
    assert await redis.llen("done:runs") >= 10_000  # at least once: some may have run twice
    assert await redis.smembers(K.workers) == {b"w-b"}
    assert await redis.llen("lq:processing:w-a") == 0


async def test_sigterm_lets_the_running_job_finish_and_exits_0(redis, private_redis, procs):
    w = cli_worker(procs, private_redis[1], "w-t")
    job = await enqueue(redis, J + "sleep", [1.5])
    await wait_status(redis, job.jid, "running")
    assert w.stop(grace=10) == 0
    assert (await job_status(redis, job.jid))["status"] == "done"
    assert await redis.smembers(K.workers) == set()


async def test_sigterm_past_the_grace_puts_the_job_back_and_another_worker_runs_it(
        redis, private_redis, procs):
    w = cli_worker(procs, private_redis[1], "w-t", "--grace", "0.2")
    job = await enqueue(redis, J + "sleep", [2])
    await wait_status(redis, job.jid, "running")
    assert w.stop(grace=10) == 0
    assert "1 given back to their queues" in w.output()
    [back] = await redis.lrange(K.queue("default"), 0, -1)  # the exact job, in its queue
    assert decode(back).jid == job.jid
    assert (await job_status(redis, job.jid))["status"] == "queued"
    cli_worker(procs, private_redis[1], "w-u")
    await wait_status(redis, job.jid, "done", timeout=5)


@pytest.mark.parametrize("job_class", ["sleep", "sleep_blocking"])  # async, and sync in a thread
async def test_sigterm_with_every_slot_busy_starts_the_grace_at_the_signal(
        redis, private_redis, procs, job_class):
    w = cli_worker(procs, private_redis[1], "w-busy", "--concurrency", "1", "--grace", "0.2")
    job = await enqueue(redis, J + job_class, [3])
    await wait_status(redis, job.jid, "running")
    signalled = time.monotonic()
    w.signal(signal.SIGTERM)
    code = await asyncio.to_thread(w.popen.wait, 10)
    took = time.monotonic() - signalled
    w.stop()  # collects the last lines
    assert code == 0, w.output()
    assert took < 1.0, f"exit {took:.2f} s after SIGTERM with --grace 0.2 (the job had ~3 s left)"
    assert "1 given back to their queues" in w.output()
    [back] = await redis.lrange(K.queue("default"), 0, -1)  # not lost: the exact job, queued again
    assert decode(back).jid == job.jid
    assert (await job_status(redis, job.jid))["status"] == "queued"
    assert await redis.llen(K.processing("w-busy")) == 0
    assert await redis.smembers(K.workers) == set()


async def test_queued_jobs_survive_a_redis_crash_with_aof(procs):
    port = free_port()
    with tempfile.TemporaryDirectory() as aof_dir:
        server, url = start_redis(port, aof_dir=aof_dir)
        with server:
            client = aioredis.from_url(url)
            jobs = [await enqueue(client, J + "record", ["survived"]) for _ in range(20)]
            await client.aclose()
            server.kill()
        server, url = start_redis(port, aof_dir=aof_dir)
        with server:
            client = aioredis.from_url(url)
            assert await client.llen(K.queue("default")) == 20
            cli_worker(procs, url, "w-r")
            await wait_count(client, "survived", 20, timeout=10)
            assert await client.smembers("survived") == {j.jid.encode() for j in jobs}
            await client.aclose()
