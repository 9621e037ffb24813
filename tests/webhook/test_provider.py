"""Integration tests of the provider: real processes on free ports, real HTTP, real peers.

Two kinds of receiver take the provider's webhooks:

- the real receiver process (``start_receiver``, from ``conftest.py``), which verifies
  with our from-scratch code, dedupes on webhook-id and reports ``GET /received``;
- a capture server in this process (a real uvicorn app on a free port) that records
  every raw request and answers as the test scripts it.  Its recordings are verified
  with the ``standardwebhooks`` reference library: someone else's code accepts ours.

State is read back from the provider's delivery log and the receiver's /received,
never guessed from sleeps.  Backoff bases are tens of milliseconds, so that a
delivery's whole life (retries, DEAD, redelivery) fits in a few seconds.
"""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys

import httpx
import pytest

from learn_webhook.retry_schedule import RetryPolicy

# A receiver's port is chosen before it starts where the subscription of its URL must come
# first (the receiver needs the secret that subscription returns), or where nobody may listen yet.
from wirelab_common.ports import free_port
from wirelab_common.waiting import eventually

pytestmark = pytest.mark.loopback

LOOPBACK = ("--allow-target", "127.0.0.0/8")


# -- Signed deliveries ----------------------------------------------------------------------


def test_a_signed_delivery_is_accepted_and_processed_by_the_real_receiver(start_provider, start_receiver):
    provider = start_provider(*LOOPBACK)
    port = free_port()
    sub = provider.subscribe(f"http://127.0.0.1:{port}/webhook")
    assert sub["secret"].startswith("whsec_") and sub["github_secret"] is None
    receiver = start_receiver(secrets=[sub["secret"]], port=port)
    event = provider.publish("invoice.paid", {"invoice": "in_1", "amount": 4200})
    [delivery_id] = event["deliveries"]
    [seen] = receiver.wait_processed(1)["events"]
    assert (seen["id"], seen["type"], seen["scheme"]) == (delivery_id, "invoice.paid", "standard")
    assert seen["body"]["data"] == {"invoice": "in_1", "amount": 4200}
    [row] = provider.wait_all("DELIVERED", 1)
    assert (row["id"], row["attempts"], row["last_status"]) == (delivery_id, 1, 202)
    out = provider.proc.output()
    assert f"> provider POST http://127.0.0.1:{port}/webhook id={delivery_id} attempt 1/6" in out
    assert re.search(rf"< provider 202 in [0-9.]+ ms id={delivery_id}", out)


# -- Retries, outages, dead letters ---------------------------------------------------------


def test_retries_follow_the_seeded_full_jitter_schedule_exactly(start_provider, capture):
    capture.statuses = [503, 503, 503, 503]  # then 200: delivered on the 5th and last attempt
    provider = start_provider(*LOOPBACK, "--seed", "5", "--max-attempts", "5", "--backoff-base", "0.2")
    provider.subscribe(capture.url)
    [delivery_id] = provider.publish("invoice.paid", {"n": 1})["deliveries"]
    provider.wait_all("DELIVERED", 1)
    expected = RetryPolicy(max_attempts=5, base=0.2, cap=30).schedule(random.Random(5))
    # Full jitter promises growing *ceilings* (0.2, 0.4, 0.8, 1.6 s), not growing delays;
    # seed 5 happens to draw growing ones, which makes the trace easy to read.
    assert expected == sorted(expected)
    traced = re.findall(rf"= provider +{delivery_id} retry in ([0-9.]+) s", provider.proc.output())
    assert traced == [f"{delay:.2f}" for delay in expected]
    log = provider.delivery(delivery_id)["attempt_log"]
    assert [a["status"] for a in log] == [503, 503, 503, 503, 200]
    for before, after, delay in zip(log[:-1], log[1:], expected, strict=True):
        waited = after["started"] - before["started"] - before["latency_ms"] / 1000
        assert delay - 0.005 <= waited <= delay + 0.15, (waited, delay)
    arrivals = [r.at for r in capture.requests]
    assert {r.headers["webhook-id"] for r in capture.requests} == {delivery_id}  # one id, every attempt
    assert all(b - a >= d - 0.005 for a, b, d in zip(arrivals[:-1], arrivals[1:], expected, strict=True))


def test_events_sent_during_an_outage_all_arrive_once_the_receiver_is_back(start_provider, start_receiver):
    provider = start_provider(*LOOPBACK, "--backoff-base", "0.05", "--backoff-cap", "0.3",
                              "--max-attempts", "100")
    port = free_port()
    secret = provider.subscribe(f"http://127.0.0.1:{port}/webhook")["secret"]
    down = [provider.publish("tick", {"n": n})["deliveries"][0] for n in range(5)]  # nobody listens yet
    eventually(lambda: all(d["attempts"] >= 2 for d in provider.deliveries("PENDING")), 10,
               "two failed attempts")
    receiver = start_receiver(secrets=[secret], port=port)
    receiver.wait_processed(5)
    httpx.post(receiver.base("/control"), json={"fail": True}, timeout=5)  # now it answers 503
    failing = [provider.publish("tick", {"n": n})["deliveries"][0] for n in range(5, 8)]
    eventually(lambda: all(provider.delivery(d)["attempts"] >= 2 for d in failing), 10, "two 503s each")
    httpx.post(receiver.base("/control"), json={"fail": False}, timeout=5)
    state = receiver.wait_processed(8)
    assert sorted(e["id"] for e in state["events"]) == sorted(down + failing)
    assert len(provider.wait_all("DELIVERED", 8)) == 8
    for delivery_id in down:
        log = provider.delivery(delivery_id)["attempt_log"]
        assert log[-1]["status"] == 202
        assert all(a["status"] is None and "Connect" in a["error"] for a in log[:-1])  # refused
    for delivery_id in failing:
        statuses = [a["status"] for a in provider.delivery(delivery_id)["attempt_log"]]
        assert statuses[-1] == 202 and set(statuses[:-1]) == {503} and len(statuses) >= 3


def test_deliveries_go_dead_after_max_attempts_and_come_back_on_redelivery(start_provider, start_receiver):
    provider = start_provider(*LOOPBACK, "--max-attempts", "3", "--backoff-base", "0.05")
    port = free_port()
    secret = provider.subscribe(f"http://127.0.0.1:{port}/webhook")["secret"]
    receiver = start_receiver(secrets=[secret], port=port)
    httpx.post(receiver.base("/control"), json={"fail": True, "status": 500}, timeout=5)
    ids = [provider.publish("invoice.paid", {"n": n})["deliveries"][0] for n in range(3)]
    dead = provider.wait_all("DEAD", 3)
    assert {d["id"] for d in dead} == set(ids) and {d["attempts"] for d in dead} == {3}
    assert {d["last_status"] for d in dead} == {500}
    assert provider.proc.output().count("DEAD after 3 attempts") == 3
    assert receiver.received()["counts"]["failed_on_purpose"] == 9
    httpx.post(receiver.base("/control"), json={"fail": False}, timeout=5)
    answer = provider.api("POST", "/dead-letters/redeliver")
    assert answer.status_code == 202 and sorted(answer.json()["redelivered"]) == sorted(ids)
    assert sorted(e["id"] for e in receiver.wait_processed(3)["events"]) == sorted(ids)  # the same ids
    provider.wait_all("DELIVERED", 3)
    assert [a["status"] for a in provider.delivery(ids[0])["attempt_log"]] == [500, 500, 500, 202]
    # Redelivering a delivered webhook sends the same id again: the receiver calls it a duplicate.
    assert provider.api("POST", f"/deliveries/{ids[0]}/redeliver").status_code == 202
    eventually(lambda: receiver.received()["counts"]["duplicates"] == 1, 10, "the duplicate")
    assert receiver.received()["counts"]["processed"] == 3
    assert provider.api("POST", "/deliveries/msg_nope/redeliver").status_code == 404


def test_a_receiver_slower_than_the_timeout_counts_as_a_failed_attempt(start_provider, capture):
    capture.delays = [3.0]  # the first request hangs for 3 s, the second is answered at once
    provider = start_provider(*LOOPBACK, "--timeout", "0.3", "--backoff-base", "0.05")
    provider.subscribe(capture.url)
    [delivery_id] = provider.publish("report.ready", {})["deliveries"]
    provider.wait_all("DELIVERED", 1)
    first, second = provider.delivery(delivery_id)["attempt_log"]
    assert (first["status"], first["error"]) == (None, "timeout after 0.3 s")
    assert 290 <= first["latency_ms"] < 1500
    assert second["status"] == 200
    assert [r.headers["webhook-id"] for r in capture.requests] == [delivery_id, delivery_id]


# -- Crashes and shutdowns --------------------------------------------------------------------


def test_a_provider_killed_mid_batch_resends_after_restart_and_loses_nothing(start_provider,
                                                                              start_receiver):
    # The receiver is not up yet: every first attempt is refused, and the retries are
    # spread over the next 2 s (full jitter), so the batch is still arriving when we kill.
    provider = start_provider(*LOOPBACK, "--backoff-base", "2", "--backoff-cap", "2", "--max-attempts", "50",
                              "--quiet")
    port = free_port()
    secret = provider.subscribe(f"http://127.0.0.1:{port}/webhook")["secret"]
    ids = [provider.publish("tick", {"n": n})["deliveries"][0] for n in range(50)]
    eventually(lambda: all(d["attempts"] >= 1 for d in provider.deliveries()), 10, "a first attempt each")
    receiver = start_receiver("--quiet", secrets=[secret], port=port)
    eventually(lambda: receiver.received()["counts"]["accepted"] >= 10, 15, "some deliveries")
    provider.proc.kill()  # SIGKILL: no shutdown, whatever was in flight is just cut off
    accepted = receiver.received()["counts"]["accepted"]
    assert accepted < 50, "every delivery finished before the kill: the test proved nothing"
    again = start_provider(*LOOPBACK, data_dir=provider.data_dir)  # not -q: its resume line is checked
    state = receiver.wait_processed(50, timeout=15)
    seen = [e["id"] for e in state["events"]]
    assert len(seen) == len(set(seen)) == 50 and set(seen) == set(ids)  # each processed exactly once
    assert len(again.wait_all("DELIVERED", 50)) == 50
    assert "resuming" in again.proc.output()


def test_sigterm_leaves_an_attempt_in_flight_pending_and_the_next_start_sends_it(start_provider, capture):
    capture.delays = [30.0]  # the first attempt will still be waiting when the provider stops
    provider = start_provider(*LOOPBACK, "--timeout", "60")
    provider.subscribe(capture.url)
    [delivery_id] = provider.publish("tick", {})["deliveries"]
    capture.wait(1)
    assert provider.proc.stop() == 0  # SIGTERM
    out = provider.proc.output()
    assert "left 1 delivery(ies) PENDING" in out and "= provider stopped" in out
    again = start_provider(*LOOPBACK, data_dir=provider.data_dir)
    [row] = again.wait_all("DELIVERED", 1)
    assert row["id"] == delivery_id and row["attempts"] == 1  # the cut-off attempt was never recorded
    assert [r.headers["webhook-id"] for r in capture.wait(2)] == [delivery_id, delivery_id]


def test_a_busy_port_exits_2_with_a_hint(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "learn_webhook.provider", "--port", str(port),
                               "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "what to do" in done.stderr


# -- The API refuses what it must -------------------------------------------------------------


def test_loopback_targets_are_refused_without_allow_target(start_provider):
    provider = start_provider()  # no --allow-target: the SSRF guard has no exemptions
    for url, words in [("http://127.0.0.1:9/webhook", "127.0.0.1 is a loopback address"),
                       ("http://localhost:9/webhook", "localhost resolves to"),
                       ("http://169.254.169.254/latest/meta-data/", "link-local"),
                       ("http://user:pw@93.184.216.34/", "credentials"),
                       ("ftp://93.184.216.34/", "scheme must be http or https")]:
        response = provider.api("POST", "/subscriptions", json={"url": url})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "url_refused" and words in error["message"], error
    assert "--allow-target" in provider.api("POST", "/subscriptions", json={"url": "http://127.0.0.1/"}
                                            ).json()["error"]["message"]
    assert provider.api("GET", "/subscriptions").json() == {"subscriptions": []}


def test_invalid_requests_get_clear_errors(start_provider):
    provider = start_provider(*LOOPBACK)

    def error(method: str, path: str, status: int, **kwargs) -> dict:
        response = provider.api(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()["error"]

    assert error("POST", "/subscriptions", 422, json={})["message"] == "url: Field required"
    assert "event_types.0" in error("POST", "/subscriptions", 422,
                                    json={"url": "http://127.0.0.1/", "event_types": ["a b"]})["message"]
    assert error("POST", "/events", 400, content=b"{nope")["code"] == "invalid_json"
    assert error("POST", "/events", 422, json={"type": "x..y", "payload": 1})["message"].startswith("type:")
    assert error("POST", "/events", 413, content=b"[" + b"1," * 40000 + b"1]")["code"] == "too_large"
    assert error("GET", "/deliveries?state=LOST", 400)["code"] == "invalid_state"
    assert error("GET", "/deliveries?limit=abc", 422)["code"] == "invalid_request"
    assert error("GET", "/deliveries/msg_nope", 404)["message"] == "no delivery msg_nope"
    assert error("POST", "/subscriptions/sub_nope/rotate", 404)["code"] == "not_found"
    # An event nobody subscribed to is stored, with no deliveries.
    assert provider.publish("nobody.cares", [1, 2])["deliveries"] == []
    health = provider.api("GET", "/healthz").json()
    assert health["status"] == "ok" and health["counts"] == {"PENDING": 0, "DELIVERED": 0, "DEAD": 0}
    assert json.loads(provider.api("GET", "/deliveries").text)["deliveries"] == []
