"""Integration tests of the receiver: real processes on free ports, real HTTP.

Deliveries are signed by our signer, by the real ``standardwebhooks`` library, and
by hand in GitHub's format.  State is read back from ``GET /received``, never
guessed from timings.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from learn_webhook.signatures import new_secret, sign_github

pytestmark = pytest.mark.loopback

PAYLOAD = {"type": "invoice.paid", "data": {"invoice": "in_1", "amount": 4200}}
FORGED = "v1," + base64.b64encode(b"\0" * 32).decode()


def test_signed_delivery_is_accepted_with_202_then_processed(receiver):
    response = receiver.deliver(PAYLOAD, msg_id="msg_ok")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "id": "msg_ok"}
    state = receiver.wait_processed(1)
    assert state["events"] == [
        {"id": "msg_ok", "type": "invoice.paid", "scheme": "standard", "body": PAYLOAD}]
    assert state["counts"] == {"accepted": 1, "processed": 1, "duplicates": 0, "rejected_signature": 0,
                               "rejected_body": 0, "failed_on_purpose": 0}
    receiver.proc.wait_line(r"= receiver +processed msg_ok type=invoice.paid")
    output = receiver.proc.output()
    assert "< receiver POST /webhook id=msg_ok type=invoice.paid (signature ok)" in output
    assert "> receiver 202 accepted" in output


def test_forged_and_missing_signatures_get_401_and_nothing_is_processed(receiver):
    forged = receiver.deliver(PAYLOAD, msg_id="msg_forged", headers={"webhook-signature": FORGED})
    wrong_key = receiver.deliver(PAYLOAD, msg_id="msg_wrongkey", secrets=[new_secret()])
    unsigned = httpx.post(receiver.url, json=PAYLOAD, timeout=5)
    assert (forged.status_code, forged.json()) == (401, {"error": "signature mismatch"})
    assert wrong_key.status_code == 401
    assert unsigned.status_code == 401 and unsigned.json()["error"].startswith("missing")
    # A correct delivery afterwards is processed; had a rejected one been queued,
    # it would have been processed before it (the queue is in order).
    assert receiver.deliver(PAYLOAD, msg_id="msg_real").status_code == 202
    state = receiver.wait_processed(1)
    assert [event["id"] for event in state["events"]] == ["msg_real"]
    assert state["counts"]["accepted"] == 1 and state["counts"]["rejected_signature"] == 3
    assert "> receiver 401 signature mismatch" in receiver.proc.output()


def test_stale_and_future_timestamps_get_401(receiver):
    now = int(time.time())
    stale = receiver.deliver(PAYLOAD, msg_id="msg_stale", timestamp=now - 600)
    future = receiver.deliver(PAYLOAD, msg_id="msg_future", timestamp=now + 600)
    assert (stale.status_code, stale.json()["error"]) == (401, "timestamp too old")
    assert (future.status_code, future.json()["error"]) == (401, "timestamp too far in the future")
    assert receiver.received()["counts"]["accepted"] == 0


def test_tolerance_option_narrows_the_window(start_receiver):
    receiver = start_receiver("--tolerance", "5")
    assert receiver.deliver(PAYLOAD, msg_id="msg_60s", timestamp=int(time.time()) - 60).status_code == 401
    assert receiver.deliver(PAYLOAD, msg_id="msg_now").status_code == 202


def test_verified_but_malformed_body_gets_400_and_is_not_stored(receiver):
    not_json = receiver.deliver(msg_id="msg_bad", body=b'{"type": "oops",')
    not_object = receiver.deliver(msg_id="msg_list", body=b"[1, 2, 3]")
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert not_object.status_code == 400
    counts = receiver.received()["counts"]
    assert (counts["rejected_body"], counts["accepted"]) == (2, 0)


def test_replayed_webhook_id_is_a_duplicate_and_processed_once(receiver):
    assert receiver.deliver(PAYLOAD, msg_id="msg_twice").status_code == 202
    receiver.wait_processed(1)
    again = receiver.deliver(PAYLOAD, msg_id="msg_twice")  # a retry: same id, fresh timestamp
    assert (again.status_code, again.json()) == (200, {"status": "duplicate", "id": "msg_twice"})
    time.sleep(0.3)
    state = receiver.received()
    assert len(state["events"]) == 1
    assert state["counts"]["duplicates"] == 1 and state["counts"]["processed"] == 1
    assert "> receiver 200 duplicate msg_twice" in receiver.proc.output()


def test_concurrent_deliveries_of_one_id_are_accepted_once(receiver):
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: receiver.deliver(PAYLOAD, msg_id="msg_race").status_code, range(8)))
    assert sorted(codes) == [200] * 7 + [202]
    time.sleep(0.3)
    assert receiver.wait_processed(1)["counts"]["processed"] == 1


def test_receiver_with_two_secrets_accepts_either_during_rotation(start_receiver):
    old, new = new_secret(), new_secret()
    receiver = start_receiver(secrets=[old, new])
    assert receiver.deliver(PAYLOAD, msg_id="msg_old", secrets=[old]).status_code == 202
    assert receiver.deliver(PAYLOAD, msg_id="msg_new", secrets=[new]).status_code == 202
    assert receiver.deliver(PAYLOAD, msg_id="msg_both", secrets=[new, old]).status_code == 202
    assert receiver.deliver(PAYLOAD, msg_id="msg_other", secrets=[new_secret()]).status_code == 401
    assert [e["id"] for e in receiver.wait_processed(3)["events"]] == ["msg_old", "msg_new", "msg_both"]


def test_github_signature_path(start_receiver):
    receiver = start_receiver("--github-secret", "It's a Secret to Everybody")
    body = json.dumps({"ref": "refs/heads/main", "commits": []}).encode()

    def post(signature: str, delivery: str) -> httpx.Response:
        headers = {"x-hub-signature-256": signature, "x-github-event": "push",
                   "x-github-delivery": delivery, "content-type": "application/json"}
        return httpx.post(receiver.url, content=body, headers=headers, timeout=5)

    assert post(sign_github("It's a Secret to Everybody", body), "d-1").status_code == 202
    assert post(sign_github("another secret", body), "d-2").status_code == 401
    assert post(sign_github("It's a Secret to Everybody", body), "d-1").json()["status"] == "duplicate"
    state = receiver.wait_processed(1)
    assert state["events"] == [{"id": "d-1", "type": "push", "scheme": "github",
                                "body": {"ref": "refs/heads/main", "commits": []}}]
    assert receiver.deliver(PAYLOAD, msg_id="msg_std").status_code == 202  # the standard path still works


def test_event_accepted_before_a_sigkill_is_processed_once_after_restart(start_receiver):
    first = start_receiver("--work-delay", "30")  # processing cannot finish before the kill
    assert first.deliver(PAYLOAD, msg_id="msg_crash").status_code == 202
    first.proc.kill()  # SIGKILL right after the 202: no shutdown code runs
    assert "processed msg_crash" not in first.proc.output()

    second = start_receiver(data_dir=first.data_dir)
    second.proc.wait_line(r"1 accepted but unprocessed event\(s\) queued again")
    state = second.wait_processed(1)
    assert [event["id"] for event in state["events"]] == ["msg_crash"]
    assert second.deliver(PAYLOAD, msg_id="msg_crash").json()["status"] == "duplicate"
    time.sleep(0.3)
    assert second.received()["counts"]["processed"] == 1


def test_slow_processing_does_not_delay_the_202(start_receiver):
    receiver = start_receiver("--work-delay", "2")
    response = receiver.deliver(PAYLOAD, msg_id="msg_slow")
    assert response.status_code == 202
    # The answer came back while the work is still running: the event is pending.
    state = receiver.received()
    assert (state["counts"]["accepted"], state["counts"]["processed"], state["pending"]) == (1, 0, 1)
    assert receiver.wait_processed(1)["pending"] == 0


def test_failing_on_purpose_then_recovering_via_control(start_receiver):
    receiver = start_receiver("--fail-first", "1", "--fail-status", "500")
    assert receiver.deliver(PAYLOAD, msg_id="msg_f").status_code == 500
    switched = httpx.post(receiver.base("/control"), json={"fail": True, "retry_after": 3}, timeout=5)
    assert switched.json() == {"fail": True, "status": 500, "retry_after": 3}
    outage = receiver.deliver(PAYLOAD, msg_id="msg_f")
    assert outage.status_code == 500 and outage.headers["retry-after"] == "3"
    httpx.post(receiver.base("/control"), json={"fail": False}, timeout=5)
    assert receiver.deliver(PAYLOAD, msg_id="msg_f").status_code == 202
    assert receiver.wait_processed(1)["counts"]["failed_on_purpose"] == 2


def test_verbose_trace_shows_the_webhook_headers(start_receiver):
    receiver = start_receiver("-v")
    receiver.deliver(PAYLOAD, msg_id="msg_v")
    receiver.proc.wait_line(r"^ +webhook-signature: v1,")
    assert "      webhook-id: msg_v" in receiver.proc.output()


def test_sigterm_exits_0(receiver):
    receiver.deliver(PAYLOAD, msg_id="msg_term")
    receiver.wait_processed(1)
    receiver.proc.signal(signal.SIGTERM)
    assert receiver.proc.popen.wait(10) == 0
    assert "= receiver stopped" in receiver.proc.output()


def test_busy_port_exits_2_with_a_hint(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "learn_webhook.receiver", "--port", str(port),
                                 "--secret", new_secret(), "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "cannot listen" in result.stderr and "what to do" in result.stderr
