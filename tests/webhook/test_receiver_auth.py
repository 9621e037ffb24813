"""The receiver's verify-then-parse steps and its failure switch, pure: headers and bytes in, a verdict."""

from __future__ import annotations

import pytest

from learn_webhook.receiver_app import BodyError, FailSwitch, Verified, authenticate, parse_event
from learn_webhook.signatures import MissingHeaders, sign_github, standard_headers

pytestmark = pytest.mark.pure

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_700_000_000
BODY = b'{"type": "invoice.paid", "data": {"n": 1}}'


def signed(body: bytes = BODY, msg_id: str = "msg_1", timestamp: int = NOW) -> dict[str, str]:
    return standard_headers([SECRET], msg_id, timestamp, body)


def test_standard_headers_pick_the_standard_scheme():
    assert authenticate(signed(), BODY, secrets=[SECRET], github_secret="gh", now=NOW,
                        tolerance=300) == Verified("msg_1", "standard")


def test_github_header_picks_the_github_scheme_and_its_delivery_id():
    headers = {"x-hub-signature-256": sign_github("gh", BODY), "x-github-delivery": "d-1"}
    assert authenticate(headers, BODY, secrets=[SECRET], github_secret="gh", now=NOW,
                        tolerance=300) == Verified("d-1", "github")


def test_github_signature_is_not_accepted_when_no_github_secret_is_configured():
    headers = {"x-hub-signature-256": sign_github("gh", BODY), "x-github-delivery": "d-1"}
    with pytest.raises(MissingHeaders):
        authenticate(headers, BODY, secrets=[SECRET], github_secret=None, now=NOW, tolerance=300)


def test_github_delivery_without_its_id_is_refused():
    headers = {"x-hub-signature-256": sign_github("gh", BODY)}
    with pytest.raises(MissingHeaders, match="x-github-delivery"):
        authenticate(headers, BODY, secrets=[], github_secret="gh", now=NOW, tolerance=300)


def test_unsigned_request_is_refused_whatever_is_configured():
    for secrets, github in (([SECRET], None), ([], "gh"), ([SECRET], "gh")):
        with pytest.raises(MissingHeaders):
            authenticate({}, BODY, secrets=secrets, github_secret=github, now=NOW, tolerance=300)


def test_parse_event_takes_the_type_from_the_body_or_the_github_header():
    assert parse_event(Verified("m", "standard"), {}, BODY).type == "invoice.paid"
    assert parse_event(Verified("m", "github"), {"x-github-event": "push"}, b"{}").type == "push"
    assert parse_event(Verified("m", "standard"), {}, b'{"no": "type"}').type == "-"


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_parse_event_refuses_anything_but_a_json_object(body):
    with pytest.raises(BodyError):
        parse_event(Verified("m", "standard"), {}, body)


def test_fail_switch_fails_the_first_n_then_follows_the_toggle():
    switch = FailSwitch(first=2)
    assert [switch.take() for _ in range(3)] == [True, True, False]
    switch.on = True
    assert switch.take() is True
