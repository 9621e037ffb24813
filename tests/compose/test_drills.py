"""Failure drills across real hosts: each container has its own address, so a kill, a restart or
a cut cable hits one machine of the system while the others go on.  Each drill asserts that
nothing is lost, then puts the stack back as it was for the next one.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import httpx
import pytest

from tests.compose.conftest import (
    PROJECT,
    compose,
    containers,
    docker,
    logs,
    redis_cli,
    state,
    wait_healthy,
    wait_until,
)
from tests.compose.test_stack import HTTP, chat_clients_on_both_servers

pytestmark = [pytest.mark.differential, pytest.mark.timeout(300)]

NETWORK = f"{PROJECT}_default"
QUEUE = "http://127.0.0.1:8003"
CHAT_HTTP = "http://127.0.0.1:8080"  # nginx in front of chat1 and chat2


def enqueue(job: dict, client: httpx.Client = HTTP) -> str:
    answer = client.post(f"{QUEUE}/jobs", json=job)
    assert answer.status_code == 201, answer.text
    return answer.json()["jid"]


def job_status(jid: str) -> str:
    return HTTP.get(f"{QUEUE}/jobs/{jid}").json()["status"]


def test_killing_a_chat_server_moves_its_clients_to_the_other_and_the_room_goes_on():
    [chat1] = containers("chat1")

    async def scenario() -> None:
        one, two = await chat_clients_on_both_servers("drill")
        try:
            docker("kill", chat1)  # SIGKILL: no close frame, the TCP connection just dies
            # The client reconnects by itself, through nginx, which now finds only chat2.
            await _until(lambda: one.connects >= 2 and one.server_id == "chat2", 30,
                         lambda: f"c0 to reconnect to chat2: {one.connects} connection(s), on "
                                 f"{one.server_id}, last close {one.last_close}, waits {one.delays}")
            await one.wait_ready(10)
            for speaker, listener in ((one, two), (two, one)):
                text = f"after the kill {uuid.uuid4().hex[:6]}"
                await speaker.say("drill", text)
                got = await listener.wait_for(
                    lambda m, t=text: m.get("type") == "message" and m["text"] == t, 10)
                assert got["server"] == "chat2"
        finally:
            await one.close()
            await two.close()

    try:
        asyncio.run(scenario())
    finally:
        docker("start", chat1)
        wait_healthy("chat1")
        # nginx counted chat1 as failed and skips it for fail_timeout (10 s): the stack is back
        # as it was when nginx's round robin reaches chat1 again.
        wait_until(lambda: any(HTTP.get(f"{CHAT_HTTP}/healthz").json()["server"] == "chat1"
                               for _ in range(2)), 30, "nginx to send requests to chat1 again")


async def _until(predicate, timeout: float, waiting_for) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"after {timeout} s, still waiting for {waiting_for()}")
        await asyncio.sleep(0.1)


def restart_redis() -> None:
    [redis] = containers("redis")
    docker("restart", "-t", "10", redis)
    wait_healthy("redis")


def test_restarting_redis_loses_nothing_and_its_clients_recover_by_themselves():
    services = ("pubsub-subscriber", "pubsub-consumer", "chat1", "chat2", "queue-web")
    watched = {s: containers(s) for s in services}
    started = {name: state(name)["StartedAt"] for names in watched.values() for name in names}
    # Stored before the restart, due after it: only the append-only file can keep it.
    scheduled = enqueue({"class": "checksum", "args": ["survives a restart"], "in": 600})
    restart_redis()
    assert job_status(scheduled) == "scheduled"
    assert scheduled in {job["jid"] for job in HTTP.get(f"{QUEUE}/scheduled").json()["jobs"]}
    # Streams: the consumer group survived (AOF) and the consumer reads new entries.
    prefix = f"restart-{uuid.uuid4().hex[:6]}"
    compose("exec", "-T", "pubsub-consumer", "python", "-m", "learn_pubsub.streams", "produce",
            "--redis-url", "redis://redis:6379/0", "--count", "2", "--id-prefix", prefix)
    [consumer] = watched["pubsub-consumer"]
    wait_until(lambda: f"{prefix}-2 " in logs(consumer), 30, "the consumer to read after the restart")
    # Pub/sub: the subscriber subscribed again by itself (a message published before it did is
    # gone for good: pub/sub keeps nothing, so we publish until one arrives).
    [subscriber] = watched["pubsub-subscriber"]
    topic = f"orders.restart{uuid.uuid4().hex[:6]}"

    def published_and_received() -> bool:
        compose("exec", "-T", "pubsub-subscriber", "python", "-m", "learn_pubsub.publisher",
                "--redis-url", "redis://redis:6379/0", "--topic", topic)
        return f"< audit    {topic} " in logs(subscriber)

    wait_until(published_and_received, 30, "the subscriber to receive after the restart", every=1)
    # Nobody was restarted: each process rode out the outage itself.
    for name, when in started.items():
        assert state(name)["Running"] and state(name)["StartedAt"] == when, f"{name} restarted or stopped"


def test_queue_workers_ride_out_a_redis_restart():
    workers = containers("queue-worker")
    try:
        restart_redis()
        fresh = enqueue({"class": "checksum", "args": ["after the restart"]})
        wait_until(lambda: job_status(fresh) == "done", 30, "a job enqueued after the restart done")
        for name in workers:
            assert state(name)["Running"], f"{name} exited: {logs(name)[-300:]}"
    finally:
        compose("up", "-d", "--no-recreate", "queue-worker")  # start any worker that died
        wait_until(lambda: all(state(c)["Running"] for c in containers("queue-worker")), 60, "workers")


def test_killing_a_worker_in_the_middle_of_2000_jobs_and_scaling_to_3_loses_none():
    key = f"drill:{uuid.uuid4().hex[:8]}"
    jids: list[str] = []

    def enqueue_all() -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            for _ in range(2000):
                jids.append(enqueue({"class": "record", "args": [key]}, client))

    producer = threading.Thread(target=enqueue_all)
    producer.start()
    try:
        wait_until(lambda: int(redis_cli("SCARD", key)) >= 300, 60, "300 jobs done")
        victim = containers("queue-worker")[0]
        docker("kill", victim)  # SIGKILL: its jobs stay in its processing list until reaped
        compose("up", "-d", "--no-recreate", "--scale", "queue-worker=3", "queue-worker")
    finally:
        producer.join(120)
    assert len(jids) == 2000
    wait_until(lambda: int(redis_cli("SCARD", key)) == 2000, 120, "all 2000 jobs done")
    done = set(redis_cli("SMEMBERS", key).split())
    assert done == set(jids)  # every job, each counted once (runs may repeat: at-least-once)
    assert int(redis_cli("LLEN", f"{key}:runs")) >= 2000
    # Back to two workers (compose starts the killed one again and removes the third).
    compose("up", "-d", "--no-recreate", "--scale", "queue-worker=2", "queue-worker")
    wait_until(lambda: len([c for c in containers("queue-worker") if state(c)["Running"]]) == 2, 60,
               "two workers")


def cut_off_a_worker() -> tuple[str, str, list[str]]:
    """Cut one worker off the network while it holds jobs; return (container, since, jids)."""
    cut = containers("queue-worker")[0]
    since = str(int(time.time()) - 1)
    jids = [enqueue({"class": "sleep", "args": [3]}) for _ in range(30)]
    wait_until(lambda: "job " in logs(cut, since=since), 10, f"{cut} to take jobs")
    docker("network", "disconnect", NETWORK, cut)
    try:
        # Its heartbeat (1 s, dead after 5 s) stops: the other worker reaps and runs its jobs.
        wait_until(lambda: all(job_status(j) == "done" for j in jids), 90,
                   "every job done while it is cut off")
    finally:
        docker("network", "connect", NETWORK, cut)
    return cut, since, jids


def test_a_worker_cut_off_longer_than_its_heartbeat_has_its_jobs_reaped_and_done_by_another():
    try:
        cut_off_a_worker()
    finally:
        compose("up", "-d", "--no-recreate", "queue-worker")
        wait_until(lambda: all(state(c)["Running"] for c in containers("queue-worker")), 60, "workers")


def test_a_worker_that_returns_reports_the_jobs_reaped_from_it():
    try:
        cut, since, jids = cut_off_a_worker()
        # Back on the network, it finishes what it still held and learns those jobs were not its
        # own any more: the second completion is reported, not silent.
        wait_until(lambda: "no longer ours" in logs(cut, since=since), 60, f"{cut} to report the reaped jobs")
        assert state(cut)["Running"]
    finally:
        compose("up", "-d", "--no-recreate", "queue-worker")
        wait_until(lambda: all(state(c)["Running"] for c in containers("queue-worker")), 60, "workers")
