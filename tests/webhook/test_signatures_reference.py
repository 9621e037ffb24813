"""Differential: the real ``standardwebhooks`` package (nobody here wrote it) beside ours.

It must verify what we sign, and we must verify what it signs; and the receiver
process must accept a delivery the library signed.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from learn_webhook.signatures import (
    NoMatchingSignature,
    new_secret,
    sign_standard,
    standard_headers,
    verify_standard,
)

pytestmark = pytest.mark.differential

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of 24 byte").decode()
PAYLOAD = {"type": "invoice.paid", "data": {"invoice": "in_1", "amount": 4200}}


def test_reference_library_signs_the_spec_vector_like_we_do():
    when = datetime.fromtimestamp(TIMESTAMP, tz=UTC)
    assert Webhook(SECRET).sign(MSG_ID, when, BODY.decode()) == sign_standard(SECRET, MSG_ID, TIMESTAMP, BODY)


@pytest.mark.parametrize("body", [BODY, b'{"type":"invoice.paid","data":{"name":"Zo\xc3\xab"}}', b"{}"])
def test_reference_library_verifies_our_headers(body):
    # It checks the timestamp against the real clock, so we sign with the current time.
    headers = standard_headers([SECRET], "msg_ours", int(time.time()), body)
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)


def test_reference_library_verifies_our_rotated_headers_with_either_secret():
    headers = standard_headers([OTHER_SECRET, SECRET], "msg_rot", int(time.time()), BODY)
    for secret in (SECRET, OTHER_SECRET):
        Webhook(secret).verify(BODY, headers)


def test_reference_library_rejects_what_we_would_reject():
    headers = standard_headers([SECRET], "msg_ours", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY + b" ", headers)


@pytest.mark.parametrize("body", [BODY, b'{"type":"user.created","data":{"id":"\xe2\x9c\x93"}}'])
def test_we_verify_what_the_reference_library_signs(body):
    now = int(time.time())
    when = datetime.fromtimestamp(now, tz=UTC)
    signature = Webhook(SECRET).sign("msg_theirs", when, body.decode())
    headers = {"webhook-id": "msg_theirs", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify_standard([SECRET], headers, body, now=now) == "msg_theirs"
    with pytest.raises(NoMatchingSignature):
        verify_standard([OTHER_SECRET], headers, body, now=now)


def test_we_agree_with_the_reference_library_on_many_generated_secrets_and_ids():
    now = int(time.time())
    when = datetime.fromtimestamp(now, tz=UTC)
    for i in range(50):
        secret = new_secret(lambda n, i=i: bytes((i * 7 + k) % 256 for k in range(n)))
        msg_id = f"msg_{i:04d}"
        body = json.dumps({"i": i, "pad": "x" * i}).encode()
        assert Webhook(secret).sign(msg_id, when, body.decode()) == sign_standard(secret, msg_id, now, body)


def test_delivery_signed_by_the_standardwebhooks_library_is_accepted(receiver):
    body = json.dumps(PAYLOAD, separators=(",", ":"))
    now = datetime.now(tz=UTC)
    signature = Webhook(receiver.secret).sign("msg_lib", now, body)
    headers = {"webhook-id": "msg_lib", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}
    response = httpx.post(receiver.url, content=body.encode(), headers=headers, timeout=5)
    assert response.status_code == 202
    assert receiver.wait_processed(1)["events"][0]["id"] == "msg_lib"
