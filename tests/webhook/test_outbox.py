"""The outbox on a real SQLite file in a temp dir: no server, no sockets, a hand-turned clock.

What the provider promises rests on these: an event and its deliveries are stored
together or not at all; claiming writes nothing (so a crash leaves work PENDING);
every write follows the state table; redelivery keeps the webhook-id.
"""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from learn_webhook.outbox import DB_NAME, IllegalTransition, NotFound, Outbox, State, transition
from learn_webhook.retry_schedule import Delivered, GiveUp, Retry

pytestmark = pytest.mark.memory


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sequential_ids():
    counters: dict[str, itertools.count] = {}

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(counters.setdefault(prefix, itertools.count(1)))}"

    return new_id


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path, clock):
    box = Outbox.open(tmp_path, clock=clock, new_id=sequential_ids())
    yield box
    box.close()


def add_two_subscriptions(outbox: Outbox) -> None:
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_subscription("http://b.example/hook", "whsec_BBBB", "gh-secret", ["invoice.paid"])


def test_an_event_gets_one_delivery_per_matching_subscription(outbox):
    add_two_subscriptions(outbox)
    assert outbox.add_event("invoice.paid", {"n": 1}) == ("evt_1", ["msg_1", "msg_2"])
    assert outbox.add_event("user.created", {"n": 2}) == ("evt_2", ["msg_3"])  # b filters it out
    assert outbox.counts() == {"PENDING": 3, "DELIVERED": 0, "DEAD": 0}


def test_the_event_and_its_deliveries_are_on_disk_when_add_event_returns(outbox, tmp_path):
    add_two_subscriptions(outbox)
    outbox.add_event("invoice.paid", {"n": 1})
    with sqlite3.connect(tmp_path / DB_NAME) as other:  # another connection: only committed rows
        assert other.execute("SELECT id, type FROM events").fetchall() == [("evt_1", "invoice.paid")]
        assert other.execute("SELECT id, state FROM deliveries").fetchall() == [
            ("msg_1", "PENDING"), ("msg_2", "PENDING")]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_event_whose_deliveries_cannot_be_stored_is_not_stored_either(tmp_path, clock):
    ids = sequential_ids()

    def failing_second_delivery(prefix: str) -> str:
        new = ids(prefix)
        if new == "msg_2":
            raise RuntimeError("disk full")
        return new

    box = Outbox.open(tmp_path, clock=clock, new_id=failing_second_delivery)
    add_two_subscriptions(box)
    with pytest.raises(RuntimeError, match="disk full"):
        box.add_event("invoice.paid", {"n": 1})
    assert box.counts() == {"PENDING": 0, "DELIVERED": 0, "DEAD": 0}
    assert box._read("SELECT COUNT(*) FROM events") == [(0,)]  # rolled back as a whole
    box.close()


def test_the_body_is_the_spec_payload_shape_and_fixed_at_storage(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("invoice.paid", {"amount": 42, "note": "café"})
    [job], _ = outbox.claim_due(clock.now, 10)
    assert job.body == ('{"type":"invoice.paid","timestamp":"1970-01-01T00:16:40.000000Z",'
                        '"data":{"amount":42,"note":"café"}}').encode()
    assert (job.url, job.secrets, job.github_secret, job.attempts) == (
        "http://a.example/hook", ("whsec_AAAA",), None, 0)


def test_claiming_takes_due_deliveries_oldest_first_and_skips_those_in_flight(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    for n in range(5):
        outbox.add_event("tick", {"n": n})
    jobs, next_due = outbox.claim_due(clock.now, 2)
    assert [job.delivery_id for job in jobs] == ["msg_1", "msg_2"]
    assert next_due == clock.now  # more are due right now
    jobs, _ = outbox.claim_due(clock.now, 10, busy=["msg_1", "msg_2"])
    assert [job.delivery_id for job in jobs] == ["msg_3", "msg_4", "msg_5"]
    jobs, next_due = outbox.claim_due(clock.now, 10, busy=[f"msg_{n}" for n in range(1, 6)])
    assert (jobs, next_due) == ([], None)


def test_a_retry_waits_until_its_time(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("tick", {})
    assert outbox.record_attempt("msg_1", 1, clock.now, 503, "HTTP 503", 2.5, Retry(0.75, clock.now + 0.75)) \
        == State.PENDING
    assert outbox.claim_due(clock.now, 10) == ([], clock.now + 0.75)
    clock.now += 0.75
    [job], _ = outbox.claim_due(clock.now, 10)
    assert (job.delivery_id, job.attempts) == ("msg_1", 1)


def test_outcomes_are_logged_with_every_attempt(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("tick", {})
    outbox.record_attempt("msg_1", 1, 1000.0, None, "timeout after 5 s", 5000.0, Retry(0.5, 1000.5))
    outbox.record_attempt("msg_1", 2, 1001.0, 202, None, 3.25, Delivered())
    delivery = outbox.delivery("msg_1")
    summary = [delivery[key] for key in ("state", "attempts", "last_status", "last_latency_ms")]
    assert summary == ["DELIVERED", 2, 202, 3.25]
    assert delivery["attempt_log"] == [
        {"attempt": 1, "started": 1000.0, "status": None, "error": "timeout after 5 s", "latency_ms": 5000.0},
        {"attempt": 2, "started": 1001.0, "status": 202, "error": None, "latency_ms": 3.25}]


def test_giving_up_makes_the_delivery_dead_and_says_why(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("tick", {})
    assert outbox.record_attempt("msg_1", 1, clock.now, 410, None, 1.0, GiveUp("410 Gone")) == State.DEAD
    assert outbox.deliveries(State.DEAD)[0]["last_error"] == "gave up: 410 Gone"
    assert outbox.claim_due(clock.now + 3600, 10) == ([], None)  # never claimed again


def test_the_state_table_refuses_illegal_transitions_naming_both_sides(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("tick", {})
    outbox.record_attempt("msg_1", 1, clock.now, 200, None, 1.0, Delivered())
    expected = r"delivery msg_1: delivery: 'retry' is not allowed in state DELIVERED \(expected: redeliver\)"
    with pytest.raises(IllegalTransition, match=expected):
        outbox.record_attempt("msg_1", 2, clock.now, 500, None, 1.0, Retry(1, clock.now + 1))
    assert transition("x", State.DEAD, "redeliver") == State.PENDING
    with pytest.raises(NotFound):
        outbox.record_attempt("msg_404", 1, clock.now, 200, None, 1.0, Delivered())


def test_redelivery_keeps_the_webhook_id_and_starts_the_attempts_again(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    outbox.add_event("tick", {})
    outbox.record_attempt("msg_1", 1, clock.now, 500, None, 1.0, GiveUp("1 attempts"))
    clock.now += 60
    row = outbox.redeliver("msg_1")
    summary = [row[key] for key in ("id", "state", "attempts", "next_attempt_at")]
    assert summary == ["msg_1", "PENDING", 0, 1060.0]
    [job], _ = outbox.claim_due(clock.now, 10)
    assert (job.delivery_id, job.attempts) == ("msg_1", 0)
    with pytest.raises(IllegalTransition, match="not allowed in state PENDING"):
        outbox.redeliver("msg_1")  # already on its way
    with pytest.raises(NotFound, match="no delivery msg_9"):
        outbox.redeliver("msg_9")


def test_redeliver_dead_brings_back_every_dead_delivery_and_nothing_else(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    for n in range(4):
        outbox.add_event("tick", {"n": n})
    for delivery_id in ("msg_1", "msg_3"):
        outbox.record_attempt(delivery_id, 1, clock.now, 503, None, 1.0, GiveUp("1 attempts"))
    outbox.record_attempt("msg_2", 1, clock.now, 200, None, 1.0, Delivered())
    assert outbox.redeliver_dead() == ["msg_1", "msg_3"]
    assert outbox.counts() == {"PENDING": 3, "DELIVERED": 1, "DEAD": 0}
    assert outbox.redeliver_dead() == []


def test_a_delivery_in_flight_when_the_process_died_is_still_pending_after_a_restart(tmp_path, clock):
    box = Outbox.open(tmp_path, clock=clock, new_id=sequential_ids())
    box.add_subscription("http://a.example/hook", "whsec_AAAA")
    box.add_event("tick", {})
    [job], _ = box.claim_due(clock.now, 10)  # the POST is under way...
    box._db.close()  # ...and the process dies: nothing recorded, nothing committed since
    reopened = Outbox.open(tmp_path, clock=clock)
    [again], _ = reopened.claim_due(clock.now, 10)
    assert (again.delivery_id, again.attempts, again.body) == (job.delivery_id, 0, job.body)
    reopened.close()


def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(outbox, clock):
    sub = outbox.add_subscription("http://a.example/hook", "whsec_OLD")
    outbox.rotate_secret(sub["id"], "whsec_NEW", grace=3600)
    outbox.add_event("tick", {})
    [job], _ = outbox.claim_due(clock.now, 10)
    assert job.secrets == ("whsec_NEW", "whsec_OLD")  # newest first
    clock.now += 3601
    [job], _ = outbox.claim_due(clock.now, 10)
    assert job.secrets == ("whsec_NEW",)
    with pytest.raises(NotFound):
        outbox.rotate_secret("sub_404", "whsec_X", grace=1)


def test_the_delivery_log_lists_newest_first_and_filters_by_state(outbox, clock):
    outbox.add_subscription("http://a.example/hook", "whsec_AAAA")
    for n in range(3):
        outbox.add_event("tick", {"n": n})
    outbox.record_attempt("msg_2", 1, clock.now, 200, None, 1.0, Delivered())
    assert [d["id"] for d in outbox.deliveries()] == ["msg_3", "msg_2", "msg_1"]
    assert [d["id"] for d in outbox.deliveries(State.PENDING, limit=1)] == ["msg_3"]
    assert outbox.deliveries(State.DELIVERED)[0]["event_type"] == "tick"
