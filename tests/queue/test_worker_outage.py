"""Worker processes against a Redis that goes away: killed and restarted, paused, or refusing.

Real ``python -m learn_queue.worker`` processes and a private ``redis-server``
each (never the shared one): Redis is killed with SIGKILL and started again on
its append-only file, or paused with SIGSTOP longer than the worker's
``--redis-timeout``; a worker is paused past its heartbeat's TTL so that another
worker reaps its job and runs it.  In each case the worker must go on by
itself, trace the outage, and let no job be lost or counted done twice
unnoticed.  At start, a Redis that is missing or refuses (protected mode, in a
network namespace of its own, or a password) must give exit 2 and one line.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
import redis.asyncio as aioredis

from learn_queue.client import Keys, enqueue, enqueue_many, job_status
from tests.conftest import PYTHON, need_binary, unavailable
from wirelab_common.ports import free_port
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback
J = "learn_queue.jobs."
K = Keys()


def cli_worker(procs, url, name, *extra):
    return procs.python("learn_queue.worker", "--redis-url", url, "--worker-id", name, "--poll", "0.05",
                        "--redis-timeout", "1", "--backoff-scale", "0.01", *extra, name=name,
                        ready_line="fetching")


async def wait_count(client, key, count, timeout):
    async def counted():
        return await client.scard(key) >= count

    await eventually_async(counted, timeout, f"{count} members in {key}", interval=0.05)


async def all_done_once(client, key, jobs):
    """Every job done, counted once; nothing left in a processing list, the schedule or the dead set."""
    assert await client.smembers(key) == {j.jid.encode() for j in jobs}
    for job in jobs:
        status = await job_status(client, job.jid)
        assert status["status"] == "done", (job.jid, status)
    assert [k for k in await client.keys("lq:processing:*") if await client.llen(k)] == []
    assert await client.zcard(K.schedule) == 0 and await client.zcard(K.dead) == 0


async def test_a_busy_worker_rides_out_a_redis_kill_and_restart_and_every_job_completes_once(
        procs, tmp_path):
    port = free_port()
    server, url = start_redis(port, aof_dir=str(tmp_path))
    try:
        client = aioredis.from_url(url)
        before = await enqueue_many(client, J + "record", [["done"]] * 3000)
        w = cli_worker(procs, url, "w-a", "--concurrency", "20")
        await wait_count(client, "done", 300, 20)
        await client.aclose()
        server.kill()  # SIGKILL: Redis keeps only what its append-only file holds
        await asyncio.sleep(1.0)  # the worker, mid-batch, finds nobody at the port
        server, url = start_redis(port, aof_dir=str(tmp_path))
        client = aioredis.from_url(url)
        assert await client.scard("done") < 3000, "all done before the kill: the test proves nothing"
        after = await enqueue_many(client, J + "record", [["done"]] * 200)
        await wait_count(client, "done", 3200, 60)
        await all_done_once(client, "done", before + after)
        assert w.alive(), w.output()
        out = w.output()
        # Each job was finished once: one "done" line for each, none "no longer ours" (a retried
        # finish whose first try went through is recognised by its ack).
        done_lines = Counter(re.findall(r"job ([0-9a-f]{24}) done in", out))
        assert set(done_lines) == {j.jid for j in before + after}
        assert set(done_lines.values()) == {1} and "no longer ours" not in out
        # Runs repeat only where a job failed: its own Redis write was cut off by the kill (at
        # least once: the write may have been kept, its reply lost), and it was retried.
        runs = Counter(jid.decode() for jid in await client.lrange("done:runs", 0, -1))
        failed = set(re.findall(r"job ([0-9a-f]{24}) failed \(", out))
        assert {jid for jid, n in runs.items() if n > 1} <= failed
        assert out.count("redis unreachable (") == 1, out
        assert out.count("redis back after") == 1, out
        assert "Traceback" not in out
        assert w.stop() == 0
        await client.aclose()
    finally:
        server.stop()


async def test_a_worker_rides_out_a_redis_that_stops_answering(private_redis, procs):
    redis_proc, url = private_redis
    client = aioredis.from_url(url)
    w = cli_worker(procs, url, "w-a", "--concurrency", "5")
    first = [await enqueue(client, J + "record", ["seen"]) for _ in range(20)]
    await wait_count(client, "seen", 20, 10)
    redis_proc.signal(signal.SIGSTOP)  # the socket stays open; nothing answers (as in a partition)
    try:
        await asyncio.to_thread(w.wait_line, r"redis unreachable \(.*[Tt]imeout", 10)
        await asyncio.sleep(1.5)  # longer than --redis-timeout 1: several tries time out
    finally:
        redis_proc.signal(signal.SIGCONT)
    await asyncio.to_thread(w.wait_line, r"redis back after", 15)
    second = [await enqueue(client, J + "record", ["seen"]) for _ in range(20)]
    await wait_count(client, "seen", 40, 15)
    await all_done_once(client, "seen", first + second)
    assert w.alive(), w.output()
    assert "Traceback" not in w.output()
    assert w.stop() == 0
    await client.aclose()


async def test_sigterm_while_redis_is_down_exits_0_after_the_grace_and_leaves_the_job_to_a_reaper(
        private_redis, procs):
    redis_proc, url = private_redis
    client = aioredis.from_url(url)
    w = cli_worker(procs, url, "w-a", "--grace", "0.5")
    job = await enqueue(client, J + "sleep", [30])
    async def running():
        return (await job_status(client, job.jid))["status"] == "running"
    await eventually_async(running, 10, "the job running", interval=0.02)
    await client.aclose()
    redis_proc.kill()
    await asyncio.to_thread(w.wait_line, r"redis unreachable \(", 10)
    started = asyncio.get_running_loop().time()
    assert await asyncio.to_thread(w.stop, 10) == 0
    # The grace (0.5 s), then about 1 s to give back; far below the 30 s job it did not wait for.
    # (It took 4.6 s once on two busy cores, so the bound leaves room for a loaded machine.)
    assert asyncio.get_running_loop().time() - started < 8
    assert "Redis unreachable, so what we held stays in our processing list for a reaper" in w.output()
    assert "Traceback" not in w.output()


async def paused_past_its_heartbeat(client, procs, url, other_queues):
    """Worker A runs a 1.5 s job and is paused (SIGSTOP) until B has reaped it; return (A, B, job)."""
    a = cli_worker(procs, url, "w-a", "--concurrency", "1", "--heartbeat", "0.2", "--dead-after", "1")
    job = await enqueue(client, J + "sleep", [1.5])
    async def running():
        status = await job_status(client, job.jid)
        return status["status"] == "running"
    await eventually_async(running, 10, "the job running on w-a", interval=0.02)
    a.signal(signal.SIGSTOP)
    b = cli_worker(procs, url, "w-b", "--heartbeat", "0.2", "--dead-after", "1", "--queues", other_queues)
    await asyncio.to_thread(b.wait_line, r"reaper: worker w-a is dead; 1 job\(s\) back", 10)
    return a, b, job


async def test_a_worker_paused_past_its_heartbeat_reports_its_reaped_job_as_no_longer_ours(
        private_redis, procs):
    url = private_redis[1]
    client = aioredis.from_url(url)
    a, b, job = await paused_past_its_heartbeat(client, procs, url, "default")
    try:
        await asyncio.to_thread(b.wait_line, f"job {job.jid} done in", 10)  # B ran it again
        b_done = await job_status(client, job.jid)
    finally:
        a.signal(signal.SIGCONT)
    await asyncio.to_thread(a.wait_line, f"job {job.jid} done in .* but no longer ours", 10)
    await asyncio.to_thread(a.wait_line, "w-a was not in lq:workers any more", 10)
    status = await job_status(client, job.jid)
    assert status["status"] == "done" and status["ack"] == b_done["ack"]
    assert status["ack"].startswith("w-b:")  # B's run counts; A's is only noted
    late = [field for field in status if field.startswith("late:")]
    assert len(late) == 1 and late[0].startswith("late:w-a:"), status
    assert await client.llen(K.queue("default")) == 0  # and it was not queued a third time
    assert await client.sismember(K.workers, "w-a")  # A heartbeats again, so it can be reaped again
    assert a.alive(), a.output()
    assert a.stop() == 0
    assert "0 job(s) finished, 1 finished late (no longer ours)" in a.output()
    assert "Traceback" not in a.output()
    await client.aclose()


async def test_a_reaped_job_still_queued_is_taken_back_by_its_late_worker_and_runs_once(
        private_redis, procs):
    url = private_redis[1]
    client = aioredis.from_url(url)
    a, b, job = await paused_past_its_heartbeat(client, procs, url, "elsewhere")  # B reaps, never fetches
    assert await client.llen(K.queue("default")) == 1
    a.signal(signal.SIGCONT)
    await asyncio.to_thread(a.wait_line, f"job {job.jid} done in .* but no longer ours: .* taken back", 10)
    status = await job_status(client, job.jid)
    assert status["status"] == "done" and status["ack"].startswith("w-a:")
    assert await client.llen(K.queue("default")) == 0  # it will not run a second time
    assert a.stop() == 0
    assert "1 job(s) finished" in a.output()
    await client.aclose()


def start_worker_and_wait(url, timeout=20):
    return subprocess.run([PYTHON, "-m", "learn_queue.worker", "--redis-url", url], capture_output=True,
                          text=True, timeout=timeout)


def assert_one_clear_line(result, *words):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("  what to do: "), lines
    for word in words:
        assert word in result.stderr, result.stderr


def test_no_redis_at_the_port_at_start_exits_2_with_one_line():
    port = free_port()  # nothing listens there
    result = start_worker_and_wait(f"redis://127.0.0.1:{port}/0")
    assert_one_clear_line(result, f"cannot reach Redis at redis://127.0.0.1:{port}/0", "start redis-server")


def test_a_redis_that_wants_a_password_at_start_exits_2_with_one_line(procs):
    need_binary("redis-server", "redis-server")
    port = free_port()
    procs.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--requirepass", "s3cret"], name="redis", ready_port=port)
    result = start_worker_and_wait(f"redis://127.0.0.1:{port}/0")
    assert_one_clear_line(result, "wants a password", "redis://:PASSWORD@")


def test_a_redis_in_protected_mode_at_start_exits_2_with_one_line(tmp_path):
    """redis-server in protected mode accepts loopback clients only: so it and the worker run in a
    network namespace of their own, where the worker reaches it on a non-loopback address."""
    need_binary("redis-server", "redis-server")
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} not found: it is needed to give Redis a non-loopback address")
    script = textwrap.dedent(f"""\
        set -e
        ip link set lo up
        ip link add wl0 type veth peer name wl1
        ip addr add 198.18.7.1/24 dev wl0
        ip link set wl0 up; ip link set wl1 up
        redis-server --port 7000 --save '' --appendonly no --dir {tmp_path} >{tmp_path}/redis.log 2>&1 &
        REDIS=$!
        for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/7000) 2>/dev/null && break; sleep 0.1; done
        set +e
        {sys.executable} -m learn_queue.worker --redis-url redis://198.18.7.1:7000/0 2>{tmp_path}/err
        echo $? >{tmp_path}/code
        kill $REDIS; wait $REDIS
        """)
    try:
        run = subprocess.run(["unshare", "-n", "bash", "-c", script], capture_output=True, text=True,
                             timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the namespace script did not finish in 30 s")
    if run.returncode != 0 or not (tmp_path / "code").exists():
        unavailable(f"cannot make a network namespace with a veth pair here: {run.stderr.strip()[-300:]}")
    result = subprocess.CompletedProcess([], int((tmp_path / "code").read_text()), "",
                                         (tmp_path / "err").read_text())
    assert_one_clear_line(result, "refuses us: DENIED Redis is running in protected mode",
                          "--protected-mode no")
