"""Differential: what the provider process sends, verified by the ``standardwebhooks`` library.

A capture server (conftest.py) records every raw request; someone else's code must
accept each of them, rotation and retries included.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import pytest
from standardwebhooks import Webhook

from learn_webhook.dispatcher import Dispatcher
from learn_webhook.outbox import Outbox
from learn_webhook.retry_schedule import RetryPolicy
from learn_webhook.signatures import new_secret
from learn_webhook.ssrf_guard import TargetGuard, parse_networks
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential

LOOPBACK = ("--allow-target", "127.0.0.0/8")


def test_the_reference_library_verifies_what_the_provider_sends(start_provider, capture):
    provider = start_provider(*LOOPBACK)
    sub = provider.subscribe(capture.url, github=True)
    ids = [provider.publish("order.created", {"n": n})["deliveries"][0] for n in range(2)]
    for request, delivery_id in zip(sorted(capture.wait(2), key=lambda r: r.headers["webhook-id"]),
                                    sorted(ids), strict=True):
        body = Webhook(sub["secret"]).verify(request.body, request.headers)  # raises if wrong or stale
        assert body["type"] == "order.created" and body["data"] in ({"n": 0}, {"n": 1})
        headers = request.headers
        assert headers["webhook-id"] == headers["x-github-delivery"] == delivery_id
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 10
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("wirelab-webhooks/")
        assert headers["x-github-event"] == "order.created"
        github = hmac.new(sub["github_secret"].encode(), request.body, hashlib.sha256).hexdigest()
        assert headers["x-hub-signature-256"] == f"sha256={github}"


def test_after_a_rotation_both_secrets_sign_so_either_verifies(start_provider, capture):
    provider = start_provider(*LOOPBACK)
    sub = provider.subscribe(capture.url)
    old = sub["secret"]
    answer = provider.api("POST", f"/subscriptions/{sub['id']}/rotate").json()
    new = answer["secret"]
    assert new != old and answer["previous_expire_at"] > time.time() + 3600
    provider.publish("user.updated", {"id": 7})
    [request] = capture.wait(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(request.body, request.headers)["data"] == {"id": 7}


def test_each_attempt_is_signed_when_it_is_sent_so_a_retry_carries_its_own_timestamp(start_provider, capture):
    # Retry-After: 1 puts at least a second between the two attempts, so two attempts
    # signed at send time cannot share a (whole-second) timestamp.
    capture.statuses, capture.retry_after = [503], 1  # then 200
    provider = start_provider(*LOOPBACK, "--backoff-base", "0.05")
    sub = provider.subscribe(capture.url)
    [delivery_id] = provider.publish("invoice.paid", {"n": 1})["deliveries"]
    first, second = capture.wait(2)
    provider.wait_all("DELIVERED", 1)
    assert second.at - first.at >= 1.0
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
    assert first.body == second.body
    assert int(first.headers["webhook-timestamp"]) < int(second.headers["webhook-timestamp"])
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    for request in (first, second):
        # The reference library accepts each attempt as it was sent, its own timestamp included...
        assert Webhook(sub["secret"]).verify(request.body, request.headers)["data"] == {"n": 1}
        # ...and that timestamp is the second the request left, not an earlier one.
        assert 0 <= request.at - int(request.headers["webhook-timestamp"]) < 1.5


def test_an_attempt_is_signed_after_its_slow_dns_check_not_when_it_began(tmp_path, capture):
    # The dispatcher re-resolves the target before every attempt (ssrf_guard.py).  A resolver
    # that takes 1.5 s stands in for slow DNS; the signature must be made after it answered.
    def slow_dns(host: str, port: int) -> list[str]:
        time.sleep(1.5)
        return ["127.0.0.1"]

    outbox = Outbox.open(tmp_path / "outbox")
    secret = new_secret()
    outbox.add_subscription(f"http://slow-dns.test:{capture.port}/hook", secret)
    outbox.add_event("invoice.paid", {"n": 2})
    guard = TargetGuard(parse_networks(["127.0.0.0/8"]), resolver=slow_dns)

    async def deliver_one() -> None:
        dispatcher = Dispatcher(outbox, RetryPolicy(), guard, trace=Trace("provider"), loud=False)
        running = asyncio.create_task(dispatcher.run())
        while not capture.requests:
            await asyncio.sleep(0.02)
        await dispatcher.stop(grace=2.0)
        await running

    try:
        asyncio.run(asyncio.wait_for(deliver_one(), 15))
    finally:
        outbox.close()
    [request] = capture.requests
    assert request.headers["host"] == f"slow-dns.test:{capture.port}"  # sent to the checked address
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {"n": 2}
    # Signed at send time: less than a second (plus the way over loopback) before it arrived.
    # Signed when the attempt began, it would be at least 1.5 s older.
    assert 0 <= request.at - int(request.headers["webhook-timestamp"]) < 1.2
