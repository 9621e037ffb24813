"""Two queues in one Redis database: ``--namespace`` keeps them apart.

Real worker processes (``python -m learn_queue.worker --namespace ...``) and a
real web process share one redis-server and one database; each must see only
the jobs, workers and dead jobs of its own namespace, through every path a job
takes: fetch, retry (the scheduler), dead set, reaper, and the web API.
"""

from __future__ import annotations

import asyncio
import re
import sys

import httpx
import pytest
import redis.asyncio as aioredis

from learn_queue.client import Keys, enqueue, enqueue_many, job_status
from learn_queue.job import decode
from wirelab_common.processes import start_server
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback
J = "learn_queue.jobs."
A, B = Keys("app-a"), Keys("app-b")


@pytest.fixture
async def redis(private_redis):
    client = aioredis.from_url(private_redis[1], decode_responses=False)
    yield client
    await client.aclose()


def start_worker(procs, url, keys, name, *extra):
    return procs.python("learn_queue.worker", "--redis-url", url, "--namespace", keys.namespace,
                        "--worker-id", name, "--poll", "0.05", "--heartbeat", "0.2", "--dead-after", "1",
                        "--backoff-scale", "0.005", "--concurrency", "4", "--grace", "0.2", *extra, name=name,
                        ready_line="fetching")


def jids_run_by(proc) -> set[str]:
    return set(re.findall(r"< worker +job ([0-9a-f]{24}) ", proc.output()))


async def wait_until(check, timeout=15.0):
    await eventually_async(check, timeout, getattr(check, "__name__", "the condition"))


async def test_two_namespaces_on_one_database_never_see_each_others_jobs(redis, private_redis, procs):
    url = private_redis[1]
    # The same queue name and the same job classes in both: only the namespace differs.
    a_jobs = await enqueue_many(redis, J + "record", [["ran-a"]] * 30, keys=A)
    b_jobs = await enqueue_many(redis, J + "record", [["ran-b"]] * 30, keys=B)
    a_fail = await enqueue(redis, J + "fail", ["a broke"], retry=1, keys=A)
    b_fail = await enqueue(redis, J + "fail", ["b broke"], retry=1, keys=B)
    wa = start_worker(procs, url, A, "wa")
    wb = start_worker(procs, url, B, "wb")

    async def all_done() -> bool:
        return (await redis.scard("ran-a") == 30 and await redis.scard("ran-b") == 30
                and await redis.zcard(A.dead) == 1 and await redis.zcard(B.dead) == 1)
    await wait_until(all_done)

    # Each worker ran exactly its own namespace's jobs, the retried one included.
    assert jids_run_by(wa) == {j.jid for j in a_jobs} | {a_fail.jid}
    assert jids_run_by(wb) == {j.jid for j in b_jobs} | {b_fail.jid}
    assert await redis.smembers("ran-a") == {j.jid.encode() for j in a_jobs}
    assert await redis.smembers("ran-b") == {j.jid.encode() for j in b_jobs}
    [a_dead] = [decode(m) for m in await redis.zrange(A.dead, 0, -1)]
    [b_dead] = [decode(m) for m in await redis.zrange(B.dead, 0, -1)]
    assert (a_dead.jid, a_dead.retry_count, b_dead.jid) == (a_fail.jid, 2, b_fail.jid)
    assert (await job_status(redis, a_jobs[0].jid, A))["status"] == "done"
    assert await job_status(redis, a_jobs[0].jid, B) is None
    assert await redis.smembers(A.workers) == {b"wa"} and await redis.smembers(B.workers) == {b"wb"}
    # Every key the queue wrote is under one of the two namespaces; none under lq:.
    queue_keys = {k.decode() for k in await redis.keys("*")} - {"ran-a", "ran-a:runs", "ran-b", "ran-b:runs"}
    assert queue_keys and all(k.startswith(("app-a:", "app-b:")) for k in queue_keys), queue_keys

    # A worker killed in namespace A is reaped by A's next worker, never by B's.
    slow = await enqueue(redis, J + "sleep", [30], keys=A)
    await wait_until(lambda: redis.llen(A.processing("wa")))
    wa.kill()
    await asyncio.sleep(2.0)  # --dead-after 1: wb would have reaped it by now if it could see it
    assert "reaper" not in wb.output()
    assert await redis.llen(A.processing("wa")) == 1
    wa2 = start_worker(procs, url, A, "wa2")
    wa2.wait_line(r"reaper: worker wa is dead; 1 job\(s\) back", timeout=5)
    wa2.wait_line(rf"< worker +job {slow.jid} sleep", timeout=5)
    assert slow.jid not in jids_run_by(wb)


async def test_the_web_api_sees_only_its_namespace(redis, private_redis, procs):
    url = private_redis[1]
    web = start_server([sys.executable, "-m", "learn_queue.web", "--port", "0", "--redis-url", url,
                        "--namespace", A.namespace], name="web")
    procs.started.append(web)  # stopped with the others
    port = web.port
    b_job = await enqueue(redis, J + "noop", keys=B)
    await redis.sadd(B.workers, "wb")
    await redis.set(B.heartbeat("wb"), "1", ex=30)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        reply = await http.post("/jobs", json={"class": "noop", "args": []})
        assert reply.status_code == 201
        jid = reply.json()["jid"]
        assert [decode(m).jid for m in await redis.lrange(A.queue("default"), 0, -1)] == [jid]
        assert (await http.get(f"/jobs/{jid}")).json()["status"] == "queued"
        assert (await http.get(f"/jobs/{b_job.jid}")).status_code == 404
        overview = (await http.get("/queues")).json()
        assert overview["queues"] == [{"name": "default", "size": 1}]  # B's job is not counted
        assert overview["workers"] == []
    assert [decode(m).jid for m in await redis.lrange(B.queue("default"), 0, -1)] == [b_job.jid]
    assert await redis.keys("lq:*") == []


def test_a_namespace_with_a_colon_is_refused():
    # Else "a:queue" would own "a:queue:queues", the list of namespace a's queue "queues".
    assert Keys("a").queue("queues") == "a:queue:queues"
    with pytest.raises(ValueError, match="namespace"):
        Keys("a:queue")
