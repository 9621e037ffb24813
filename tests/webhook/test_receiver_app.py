"""The receiver without a process: the inbox (SQLite in a temp dir), and the app in-process.

The app runs under httpx's ``ASGITransport`` with its lifespan entered by hand
(so the worker task runs) and a fixed clock, so timestamps are exact.  The real
process, on a real port, is tested in ``tests/webhook/test_receiver.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import asynccontextmanager

import httpx
import pytest

from learn_webhook.inbox import Inbox, InboxEvent
from learn_webhook.receiver_app import (
    ReceiverSettings,
    authenticate,
    create_receiver_app,
)
from learn_webhook.signatures import (
    NoMatchingSignature,
    TimestampTooOld,
    standard_headers,
)

pytestmark = pytest.mark.memory

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_700_000_000
BODY = b'{"type": "invoice.paid", "data": {"n": 1}}'


def event(msg_id: str = "msg_1") -> InboxEvent:
    return InboxEvent(msg_id, "invoice.paid", BODY.decode(), "standard")


# -- the inbox -------------------------------------------------------------------------


def test_inbox_accepts_an_id_once_and_reports_the_repeat_as_duplicate(tmp_path):
    inbox = Inbox.open(tmp_path)
    assert inbox.accept(event(), NOW) is True
    assert inbox.accept(event(), NOW + 1) is False
    assert inbox.counts() == {"accepted": 1, "processed": 0}


def test_inbox_processes_an_event_once_and_logs_it_in_order(tmp_path):
    inbox = Inbox.open(tmp_path)
    for msg_id in ("msg_b", "msg_a"):
        inbox.accept(event(msg_id), NOW)
    assert inbox.mark_processed("msg_a", NOW) is True
    assert inbox.mark_processed("msg_a", NOW) is False
    assert inbox.mark_processed("msg_unknown", NOW) is False
    assert inbox.mark_processed("msg_b", NOW) is True
    assert [e.msg_id for e in inbox.processed()] == ["msg_a", "msg_b"]
    assert inbox.counts() == {"accepted": 2, "processed": 2}


def test_unprocessed_events_survive_reopening_the_inbox(tmp_path):
    inbox = Inbox.open(tmp_path)
    for msg_id in ("msg_1", "msg_2", "msg_3"):
        inbox.accept(event(msg_id), NOW)
    inbox.mark_processed("msg_2", NOW)
    inbox.close()
    reopened = Inbox.open(tmp_path)
    assert [e.msg_id for e in reopened.unprocessed()] == ["msg_1", "msg_3"]
    assert reopened.accept(event("msg_2"), NOW) is False  # the idempotency record survived too


def test_concurrent_accepts_of_one_id_insert_exactly_one_row(tmp_path):
    inbox = Inbox.open(tmp_path)
    results: list[bool] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        results.append(inbox.accept(event("msg_race"), NOW))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def signed(body: bytes = BODY, msg_id: str = "msg_1", timestamp: int = NOW) -> dict[str, str]:
    return standard_headers([SECRET], msg_id, timestamp, body)


# -- the app in-process ----------------------------------------------------------------


@asynccontextmanager
async def running_app(tmp_path, **overrides):
    settings = ReceiverSettings(data_dir=tmp_path, secrets=[SECRET], clock=lambda: NOW, **overrides)
    app = create_receiver_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver.test") as client:
            yield client


async def received(client: httpx.AsyncClient, processed: int) -> dict:
    for _ in range(200):
        state = (await client.get("/received")).json()
        if state["counts"]["processed"] >= processed:
            return state
        await asyncio.sleep(0.01)
    raise AssertionError(f"not processed: {state}")


async def test_app_accepts_then_processes_a_signed_delivery(tmp_path):
    async with running_app(tmp_path) as client:
        response = await client.post("/webhook", content=BODY, headers=signed())
        assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": "msg_1"})
        state = await received(client, 1)
    assert state["events"] == [{"id": "msg_1", "type": "invoice.paid", "scheme": "standard",
                                "body": json.loads(BODY)}]


async def test_app_refuses_a_timestamp_just_outside_the_window_with_401(tmp_path):
    async with running_app(tmp_path) as client:
        old = await client.post("/webhook", content=BODY, headers=signed(timestamp=NOW - 301))
        new = await client.post("/webhook", content=BODY, headers=signed(timestamp=NOW + 301))
        edge = await client.post("/webhook", content=BODY, headers=signed(msg_id="m2", timestamp=NOW - 300))
        state = (await client.get("/received")).json()
    assert (old.status_code, old.json()) == (401, {"error": TimestampTooOld.reason})
    assert new.status_code == 401 and "future" in new.json()["error"]
    assert edge.status_code == 202
    assert state["counts"]["rejected_signature"] == 2


async def test_app_processes_concurrent_deliveries_of_one_id_once(tmp_path):
    async with running_app(tmp_path) as client:
        responses = await asyncio.gather(*(client.post("/webhook", content=BODY, headers=signed())
                                           for _ in range(10)))
        state = await received(client, 1)
        await asyncio.sleep(0.1)
        state = (await client.get("/received")).json()
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert state["counts"]["processed"] == 1 and state["counts"]["duplicates"] == 9


async def test_app_answers_with_the_configured_failure_then_recovers(tmp_path):
    async with running_app(tmp_path, fail_first=1, fail_status=500) as client:
        first = await client.post("/webhook", content=BODY, headers=signed())
        second = await client.post("/webhook", content=BODY, headers=signed())
        toggled = await client.post("/control", json={"fail": True, "status": 503, "retry_after": 7})
        third = await client.post("/webhook", content=BODY, headers=signed(msg_id="m3"))
        bad = await client.post("/control", json={"fail": "yes"})
    assert (first.status_code, second.status_code) == (500, 202)
    assert toggled.json() == {"fail": True, "status": 503, "retry_after": 7}
    assert third.status_code == 503 and third.headers["retry-after"] == "7"
    assert bad.status_code == 400


async def test_app_never_stores_what_failed_verification(tmp_path):
    async with running_app(tmp_path) as client:
        forged = dict(signed(), **{"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
        assert (await client.post("/webhook", content=BODY, headers=forged)).status_code == 401
        state = (await client.get("/received")).json()
    assert state["counts"]["accepted"] == 0 and state["events"] == []
    with pytest.raises(NoMatchingSignature):
        authenticate(forged, BODY, secrets=[SECRET], github_secret=None, now=NOW, tolerance=300)
