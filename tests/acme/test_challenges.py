"""Key authorizations, the DNS-01 digest, DNS-PERSIST-01 records, problems and the §7.1.6 tables."""

from __future__ import annotations

import pytest

from learn_acme import challenges as ch
from learn_acme.objects import AUTHORIZATION, CHALLENGE, ORDER, order_event
from learn_acme.problems import Problem
from wirelab_common.state_table import BadTransition

pytestmark = pytest.mark.pure

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_key_authorization_is_token_dot_thumbprint():
    assert ch.key_authorization(TOKEN, THUMB) == f"{TOKEN}.{THUMB}"


def test_dns01_txt_is_the_base64url_sha256_of_the_key_authorization():
    # The value from openssl: printf a.b | openssl dgst -sha256 -binary | base64 (made url-safe, unpadded).
    assert ch.dns01_txt("a.b") == "LnM23I66h-9HLfVow1SCq_JXXcPl6sDFxiuP-urCyTQ"
    assert len(ch.dns01_txt(ch.key_authorization(TOKEN, THUMB))) == 43
    assert ch.dns01_name("www.example.test.") == "_acme-challenge.www.example.test"


def test_http01_accepts_the_exact_body_with_trailing_whitespace_only():
    ka = ch.key_authorization(TOKEN, THUMB)
    assert ch.judge_http01(ka, 200, (ka + "\n").encode()).valid
    assert not ch.judge_http01(ka, 200, b"x" + ka.encode()).valid
    absent = ch.judge_http01(ka, 404, b"")
    assert not absent.valid and "404" in absent.detail


def test_dns01_needs_the_digest_among_the_txt_values():
    assert ch.judge_dns01("abc", ["zzz", "abc"]).valid
    assert ch.judge_dns01("abc", []).problem == "dns"
    assert not ch.judge_dns01("abc", ["zzz"]).valid


def test_a_persist_record_authorizes_its_account_only():
    record = ch.persist_txt("ca.wirelab.test", "https://ca/acct/1")
    assert record == "ca.wirelab.test; accounturi=https://ca/acct/1"
    assert ch.judge_persist(["ca.wirelab.test"], "https://ca/acct/1", [record], now=0).valid
    other = ch.judge_persist(["ca.wirelab.test"], "https://ca/acct/2", [record], now=0)
    assert not other.valid and other.problem == "unauthorized" and "another account" in other.detail
    assert not ch.judge_persist(["other-ca.test"], "https://ca/acct/1", [record], now=0).valid


def test_a_persist_record_past_persist_until_or_without_wildcard_policy_is_refused():
    dated = ch.persist_txt("ca.test", "a", persist_until=100)
    assert ch.judge_persist(["ca.test"], "a", [dated], now=99).valid
    assert "expired" in ch.judge_persist(["ca.test"], "a", [dated], now=101).detail
    assert not ch.judge_persist(
        ["ca.test"], "a", [ch.persist_txt("ca.test", "a")], now=0, wildcard=True
    ).valid
    assert ch.judge_persist(
        ["ca.test"], "a", [ch.persist_txt("ca.test", "a", wildcard=True)], now=0, wildcard=True
    ).valid


def test_persist_records_parse_with_loose_spacing_and_refuse_garbage():
    parsed = ch.parse_persist_txt("CA.Test. ;accounturi=x ;  policy=wildcard")
    assert parsed.issuer == "ca.test" and parsed.params == {"accounturi": "x", "policy": "wildcard"}
    with pytest.raises(ValueError):
        ch.parse_persist_txt("accounturi=x")
    assert "unparsable" in ch.judge_persist(["ca.test"], "a", ["ca.test; junk"], now=0).detail


def test_problem_documents_carry_the_urn_and_status():
    doc = Problem("badNonce", "stale").document()
    assert doc == {"type": "urn:ietf:params:acme:error:badNonce", "detail": "stale", "status": 400}
    assert Problem.from_document(doc) == Problem("badNonce", "stale")
    with pytest.raises(ValueError):
        Problem("notAType", "x")


def test_an_order_cannot_skip_ready_or_processing():
    with pytest.raises(BadTransition, match="expected: authorized"):
        ORDER.next("pending", "finalize")
    assert ORDER.next(ORDER.next("ready", "finalize"), "issued") == "valid"


def test_order_follows_its_authorizations():
    assert order_event(["valid", "pending"]) is None
    assert order_event(["valid", "valid"]) == "authorized"
    assert order_event(["valid", "invalid"]) == "authz_failed"
    assert AUTHORIZATION.next("pending", "challenge_invalid") == "invalid"
    assert CHALLENGE.next("processing", "fail") == "invalid"
