"""Integration tests of the web API: a real web process, a real redis-server.

Everything the API claims is read back from Redis with redis-py, and what it
shows is put into Redis by hand in the documented format (client.py), so the
tests check the data model and not only the API's own round trip.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import pytest
import redis

from learn_queue.job import Job, decode, encode
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually

pytestmark = pytest.mark.loopback
JID = "0123456789abcdef01234567"


@dataclass
class Web:
    proc: ManagedProcess
    port: int
    redis: redis.Redis

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url(path), timeout=5)

    def post(self, path: str, body: object = None) -> httpx.Response:
        return httpx.post(self.url(path), json=body, timeout=5)


@pytest.fixture
def web(private_redis):
    _, url = private_redis
    with start_server([sys.executable, "-m", "learn_queue.web", "--port", "0", "--redis-url", url],
                      name="web") as proc:
        client = redis.Redis.from_url(url, decode_responses=True)
        yield Web(proc, proc.port, client)
        client.close()


def dead_job(jid: str = JID, queue: str = "default") -> str:
    """A job as a worker leaves it in lq:dead after its last retry."""
    return encode(Job(func="learn_queue.jobs.fail", args=["boom"], jid=jid, queue=queue,
                      created_at=1767225600.0, enqueued_at=1767225600.0, retry=2, retry_count=2,
                      error_class="RuntimeError", error_message="boom", failed_at=1767225601.0,
                      retried_at=1767225650.0))


def test_post_jobs_enqueues_now_and_status_reads_queued(web):
    response = web.post("/jobs", {"class": "checksum", "args": ["hello"]})
    assert response.status_code == 201
    jid = response.json()["jid"]
    assert response.json() == {"jid": jid, "status": "queued"}
    [stored] = web.redis.lrange("lq:queue:default", 0, -1)
    job = decode(stored)
    assert (job.func, job.args, job.jid) == ("learn_queue.jobs.checksum", ["hello"], jid)
    assert job.queue == "default"
    assert web.redis.sismember("lq:queues", "default")
    status = web.get(f"/jobs/{jid}").json()
    assert status["jid"] == jid and status["status"] == "queued" and status["result"] is None
    web.proc.wait_line(rf"> web +201 jid={jid} queued")


def test_post_jobs_with_at_or_in_goes_to_the_schedule(web):
    at = time.time() + 3600
    first = web.post("/jobs", {"class": "noop", "at": at, "queue": "low"})
    second = web.post("/jobs", {"class": "learn_queue.jobs.noop", "in": 60})
    assert first.status_code == second.status_code == 201
    assert first.json()["status"] == "scheduled" and second.json()["status"] == "scheduled"
    scores = dict(web.redis.zrange("lq:schedule", 0, -1, withscores=True))
    by_jid = {decode(member).jid: score for member, score in scores.items()}
    assert by_jid[first.json()["jid"]] == pytest.approx(at)
    assert by_jid[second.json()["jid"]] == pytest.approx(time.time() + 60, abs=5)
    assert web.redis.llen("lq:queue:low") == 0
    listed = web.get("/scheduled").json()["jobs"]
    assert {job["jid"] for job in listed} == set(by_jid)
    assert [job["at"] for job in listed] == sorted(job["at"] for job in listed)
    assert web.get("/retries").json() == {"jobs": []}


def test_unknown_class_is_400_listing_the_known_ones(web):
    response = web.post("/jobs", {"class": "os.system", "args": ["rm -rf /"]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_class"
    for name in ("checksum", "noop", "fail", "sleep"):
        assert name in error["message"]
    assert web.redis.keys("lq:*") == []


def test_bad_fields_are_422_and_bad_json_400(web):
    cases = [{"class": "noop", "args": "not a list"}, {"class": "noop", "queue": "a b"},
             {"class": "noop", "at": 1.0, "in": 5}, {"args": []}, {"class": "noop", "colour": "red"}]
    for body in cases:
        response = web.post("/jobs", body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    broken = httpx.post(web.url("/jobs"), content=b"{nope", timeout=5)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    too_few = web.get("/dead?limit=0")
    assert too_few.status_code == 422 and "limit" in too_few.json()["error"]["message"]
    assert web.redis.keys("lq:*") == []


def test_unknown_jid_is_404(web):
    response = web.get(f"/jobs/{JID}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_queues_lists_sizes_workers_and_processing(web):
    for queue in ("critical", "default", "default"):
        assert web.post("/jobs", {"class": "noop", "queue": queue}).status_code == 201
    web.redis.sadd("lq:workers", "w-alive", "w-gone")
    web.redis.set("lq:heartbeat:w-alive", "1", ex=30)
    web.redis.lpush("lq:processing:w-alive", dead_job())
    web.redis.zadd("lq:dead", {dead_job("f" * 24): 1767225700.0})
    overview = web.get("/queues").json()
    assert overview["queues"] == [{"name": "critical", "size": 1}, {"name": "default", "size": 2}]
    assert overview["workers"] == [{"id": "w-alive", "alive": True, "processing": 1},
                                   {"id": "w-gone", "alive": False, "processing": 0}]
    assert (overview["processing"], overview["workers_alive"], overview["dead"]) == (1, 1, 1)


def test_retries_lists_only_schedule_members_with_a_retry_count(web):
    web.redis.zadd("lq:schedule", {dead_job(): 1767230000.0})
    web.post("/jobs", {"class": "noop", "in": 600})
    [retry] = web.get("/retries").json()["jobs"]
    assert (retry["jid"], retry["retry_count"], retry["at"]) == (JID, 2, 1767230000.0)
    [scheduled] = web.get("/scheduled").json()["jobs"]
    assert "retry_count" not in scheduled


def test_dead_job_is_listed_then_retried_once_onto_its_queue(web):
    member = dead_job(queue="critical")
    web.redis.zadd("lq:dead", {member: 1767225700.0, "{not json": 1767225600.0})
    web.redis.hset(f"lq:job:{JID}", mapping={"status": "dead", "error": "RuntimeError: boom"})
    listed = web.get("/dead").json()["jobs"]
    assert listed[0]["jid"] == JID and listed[0]["died_at"] == 1767225700.0
    assert listed[0]["error_message"] == "boom"
    assert "malformed" in listed[1] and "not JSON" in listed[1]["problem"]

    response = web.post(f"/dead/{JID}/retry")
    assert response.status_code == 200
    assert response.json() == {"jid": JID, "status": "queued", "queue": "critical"}
    [pushed] = web.redis.lrange("lq:queue:critical", 0, -1)
    job = decode(pushed)
    assert job.jid == JID and job.retry_count is None and job.retry == 2
    assert web.redis.zcard("lq:dead") == 1  # only the malformed one is left
    assert web.redis.hget(f"lq:job:{JID}", "status") == "queued"
    # A second press finds nothing: the job is on its queue once, not twice.
    again = web.post(f"/dead/{JID}/retry")
    assert again.status_code == 404
    assert web.redis.llen("lq:queue:critical") == 1
    web.proc.wait_line(rf"= web +dead job {JID} back on queue critical")


def test_dead_job_delete_removes_it_and_its_status(web):
    web.redis.zadd("lq:dead", {dead_job(): 1767225700.0})
    web.redis.hset(f"lq:job:{JID}", mapping={"status": "dead"})
    response = httpx.delete(web.url(f"/dead/{JID}"), timeout=5)
    assert response.status_code == 200 and response.json() == {"jid": JID, "status": "deleted"}
    assert web.redis.zcard("lq:dead") == 0 and not web.redis.exists(f"lq:job:{JID}")
    assert httpx.delete(web.url(f"/dead/{JID}"), timeout=5).status_code == 404
    assert web.get(f"/jobs/{JID}").status_code == 404


def test_healthz_and_sigterm_exits_0(web):
    assert web.get("/healthz").json() == {"status": "ok"}
    web.proc.signal(signal.SIGTERM)
    assert web.proc.popen.wait(10) == 0


def test_unreachable_redis_exits_2_with_a_hint():
    dead_port = free_port()
    result = subprocess.run([sys.executable, "-m", "learn_queue.web", "--port", "0",
                             "--redis-url", f"redis://127.0.0.1:{dead_port}/0"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr and "what to do:" in result.stderr


def test_busy_port_exits_2(web):
    result = subprocess.run([sys.executable, "-m", "learn_queue.web", "--port", str(web.port),
                             "--redis-url", "redis://127.0.0.1:1/0"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "what to do:" in result.stderr


def test_end_to_end_a_worker_runs_a_job_enqueued_through_the_api(web, procs, private_redis):
    pytest.importorskip("learn_queue.worker")
    _, url = private_redis
    jid = web.post("/jobs", {"class": "checksum", "args": ["hello"]}).json()["jid"]
    procs.python("learn_queue.worker", "--redis-url", url, "--concurrency", "2", ready_line="fetching")
    status = eventually(lambda: (s := web.get(f"/jobs/{jid}").json())["status"] == "done" and s, 15,
                        f"job {jid} done")
    assert status["result"]["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert not status["error"]
