"""SIGKILL in the middle of group commits: nothing that was acknowledged is lost.

Sixteen clients write as fast as they can (events into the provider, signed
deliveries into the receiver), so commits are batched (``GET /healthz`` shows a
batch larger than one) and some requests are always waiting for the commit in
flight.  The server is then killed with SIGKILL: no shutdown code runs.  Every
request answered 2xx before the kill must be found after a restart on the same data
directory; requests that got no answer may or may not be there (the client retries
them, which is what at-least-once means).
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from learn_webhook.signatures import standard_headers

pytestmark = pytest.mark.loopback

LOOPBACK = ("--allow-target", "127.0.0.0/8")
CLIENTS = 16
KILL_AFTER = 150  # acknowledged requests before the kill


async def hammer(send, proc) -> tuple[list[str], int]:
    """``CLIENTS`` loops calling ``send(n)`` (an id if acknowledged) until the process is killed."""
    acknowledged: list[str] = []
    unanswered = 0
    counter = iter(range(10**6))
    killed = asyncio.Event()

    async def client() -> None:
        nonlocal unanswered
        while not killed.is_set():
            try:
                got = await send(next(counter))
            except httpx.HTTPError:  # cut off by the kill: no answer, so no promise either
                unanswered += 1
                return
            if got is not None:
                acknowledged.append(got)
            if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                killed.set()
                proc.kill()  # SIGKILL while the other clients' requests wait for a commit

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return acknowledged, unanswered


def test_the_provider_killed_mid_batch_keeps_every_acknowledged_event(start_provider):
    provider = start_provider(*LOOPBACK, "--quiet", "--max-attempts", "50", "--backoff-base", "30",
                              "--backoff-cap", "30")
    provider.subscribe("http://127.0.0.1:9/webhook")  # discard port: the first attempts fail, rows stay

    async def run() -> tuple[list[str], int, dict]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{provider.port}", timeout=10,
                                     limits=httpx.Limits(max_connections=CLIENTS)) as http:
            async def send(n: int) -> str | None:
                response = await http.post("/events", json={"type": "tick", "payload": {"n": n}})
                if n == 40:
                    health["seen"] = (await http.get("/healthz")).json()["group_commit"]
                return response.json()["deliveries"][0] if response.status_code == 202 else None

            health: dict = {}
            acknowledged, unanswered = await hammer(send, provider.proc)
            return acknowledged, unanswered, health

    acknowledged, unanswered, health = asyncio.run(asyncio.wait_for(run(), 60))
    assert len(acknowledged) >= KILL_AFTER
    assert health["seen"]["largest_batch"] > 1, "no batch of several writes: group commit was not exercised"
    again = start_provider(*LOOPBACK, "--quiet", "--backoff-base", "30", "--backoff-cap", "30",
                           data_dir=provider.data_dir)
    rows = again.api("GET", "/deliveries", params={"limit": 10000}).json()["deliveries"]
    stored = {row["id"] for row in rows}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged event(s) lost by the SIGKILL"
    print(f"acknowledged {len(acknowledged)}, unanswered at the kill {unanswered}, stored {len(stored)}")


def test_the_receiver_killed_mid_batch_keeps_every_acknowledged_delivery(start_receiver):
    receiver = start_receiver("--quiet")

    async def run() -> tuple[list[str], int, dict]:
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=CLIENTS)) as http:
            async def send(n: int) -> str | None:
                msg_id = f"msg_kill_{n}"
                body = json.dumps({"type": "tick", "data": {"n": n}}).encode()
                headers = {"content-type": "application/json",
                           **standard_headers(receiver.secrets, msg_id, int(time.time()), body)}
                response = await http.post(receiver.url, content=body, headers=headers)
                if n == 40:
                    health["seen"] = (await http.get(receiver.base("/healthz"))).json()["group_commit"]
                return msg_id if response.status_code == 202 else None

            health: dict = {}
            acknowledged, unanswered = await hammer(send, receiver.proc)
            return acknowledged, unanswered, health

    acknowledged, unanswered, health = asyncio.run(asyncio.wait_for(run(), 60))
    assert health["seen"]["largest_batch"] > 1, "no batch of several writes: group commit was not exercised"
    again = start_receiver("--quiet", data_dir=receiver.data_dir)
    state = again.wait_processed(len(acknowledged), timeout=20)
    processed = [event["id"] for event in state["events"]]
    assert len(processed) == len(set(processed))  # each processed once
    missing = set(acknowledged) - set(processed)
    assert not missing, f"{len(missing)} acknowledged delivery(ies) lost by the SIGKILL"
    # An acknowledged one sent again is a duplicate: the idempotency record survived too.
    repeat = again.deliver({"type": "tick", "data": {}}, msg_id=acknowledged[-1])
    assert repeat.json()["status"] == "duplicate"
