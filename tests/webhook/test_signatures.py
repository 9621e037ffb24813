"""Signatures: the specs' own example vectors, the edges, and the reference library both ways.

The Standard Webhooks vector is the one the spec's libraries test with; the GitHub
vector is from GitHub's "Validating webhook deliveries" page.  The differential
tests run the real ``standardwebhooks`` package (nobody here wrote it): it must
verify what we sign, and we must verify what it signs.
"""

from __future__ import annotations

import base64

import pytest

from learn_webhook.signatures import (
    BadTimestamp,
    MissingHeaders,
    NoMatchingSignature,
    SignatureError,
    TimestampTooNew,
    TimestampTooOld,
    decode_secret,
    new_secret,
    sign_github,
    sign_standard,
    signed_content,
    standard_headers,
    verify_github,
    verify_standard,
)

pytestmark = pytest.mark.pure

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of 24 byte").decode()


def headers_for(secrets=(SECRET,), msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY) -> dict[str, str]:
    return standard_headers(list(secrets), msg_id, timestamp, body)


# -- the spec vectors --------------------------------------------------------------


def test_standard_signature_matches_the_spec_test_vector():
    assert sign_standard(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_signed_content_is_id_dot_timestamp_dot_raw_body():
    expected = b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'
    assert signed_content(MSG_ID, TIMESTAMP, BODY) == expected


def test_the_hmac_key_is_the_decoded_secret_not_its_text():
    assert decode_secret(SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_github_signature_matches_githubs_documented_example():
    assert sign_github("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


def test_standard_headers_carry_id_timestamp_and_signature():
    assert headers_for() == {"webhook-id": MSG_ID, "webhook-timestamp": "1614265330",
                             "webhook-signature": EXPECTED}


def test_spec_vector_verifies_and_returns_the_message_id():
    assert verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP) == MSG_ID


def test_header_names_are_case_insensitive():
    shouted = {name.title(): value for name, value in headers_for().items()}
    assert verify_standard([SECRET], shouted, BODY, now=TIMESTAMP) == MSG_ID


# -- rotation --------------------------------------------------------------------------


def test_rotation_signs_with_every_secret_space_separated():
    signature = headers_for([OTHER_SECRET, SECRET])["webhook-signature"]
    assert signature.split(" ") == [sign_standard(OTHER_SECRET, MSG_ID, TIMESTAMP, BODY), EXPECTED]


@pytest.mark.parametrize("receiver_secret", [SECRET, OTHER_SECRET])
def test_either_of_two_rotated_secrets_verifies(receiver_secret):
    headers = headers_for([OTHER_SECRET, SECRET])
    assert verify_standard([receiver_secret], headers, BODY, now=TIMESTAMP) == MSG_ID


def test_receiver_with_old_and_new_secret_accepts_a_signature_by_either():
    for sender in (SECRET, OTHER_SECRET):
        assert verify_standard([SECRET, OTHER_SECRET], headers_for([sender]), BODY, now=TIMESTAMP) == MSG_ID


def test_unknown_signature_versions_are_ignored_not_fatal():
    headers = headers_for()
    headers["webhook-signature"] = "v1a,AAAA v2,whatever garbage " + EXPECTED
    assert verify_standard([SECRET], headers, BODY, now=TIMESTAMP) == MSG_ID


def test_only_other_versions_means_no_matching_signature():
    headers = headers_for()
    headers["webhook-signature"] = EXPECTED.replace("v1,", "v1a,")
    with pytest.raises(NoMatchingSignature):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


# -- tampering -------------------------------------------------------------------------


def test_tampered_body_is_rejected():
    with pytest.raises(NoMatchingSignature, match="signature mismatch"):
        verify_standard([SECRET], headers_for(), b'{"test": 2432232315}', now=TIMESTAMP)


def test_reserialized_json_body_is_rejected():
    # What a receiver gets by verifying json.dumps(json.loads(body)) with other spacing.
    with pytest.raises(NoMatchingSignature):
        verify_standard([SECRET], headers_for(), b'{"test":2432232314}', now=TIMESTAMP)


def test_tampered_id_is_rejected():
    headers = headers_for()
    headers["webhook-id"] = "msg_someone_else"
    with pytest.raises(NoMatchingSignature):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


def test_tampered_timestamp_is_rejected_even_inside_the_window():
    headers = headers_for()
    headers["webhook-timestamp"] = str(TIMESTAMP + 1)
    with pytest.raises(NoMatchingSignature):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


def test_wrong_secret_is_rejected():
    with pytest.raises(NoMatchingSignature):
        verify_standard([OTHER_SECRET], headers_for(), BODY, now=TIMESTAMP)


def test_signature_that_is_not_base64_is_a_mismatch_not_a_crash():
    headers = headers_for()
    headers["webhook-signature"] = "v1,***not base64*** v1 nocomma"
    with pytest.raises(NoMatchingSignature):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_reported_by_name(missing):
    headers = headers_for()
    del headers[missing]
    with pytest.raises(MissingHeaders, match=missing):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("value", ["", "1614265330.5", "1e9", " 1614265330", "-5", "abc", "１２"])
def test_timestamp_must_be_plain_integer_seconds(value):
    headers = headers_for()
    headers["webhook-timestamp"] = value
    with pytest.raises((BadTimestamp, MissingHeaders)):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


# -- the replay window -----------------------------------------------------------------


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamp_within_tolerance_either_way_is_accepted_edges_included(offset):
    # The signature is fixed; `now` moves.  now = TIMESTAMP - 300 means the timestamp is 300 s ahead.
    assert verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP - offset) == MSG_ID


def test_timestamp_one_second_older_than_the_window_is_rejected():
    with pytest.raises(TimestampTooOld, match="too old"):
        verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP + 301)


def test_timestamp_one_second_beyond_the_future_window_is_rejected():
    with pytest.raises(TimestampTooNew, match="future"):
        verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP - 301)


def test_tolerance_is_a_parameter():
    assert verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP + 10, tolerance=10) == MSG_ID
    with pytest.raises(TimestampTooOld):
        verify_standard([SECRET], headers_for(), BODY, now=TIMESTAMP + 11, tolerance=10)


def test_stale_timestamp_is_refused_before_any_signature_work():
    # A garbage signature with an old timestamp says "too old", not "mismatch".
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    with pytest.raises(TimestampTooOld):
        verify_standard([SECRET], headers, BODY, now=TIMESTAMP)


def test_every_failure_is_a_signature_error_with_a_short_reason():
    for error in (MissingHeaders(), BadTimestamp(), TimestampTooOld(), TimestampTooNew(),
                  NoMatchingSignature()):
        assert isinstance(error, SignatureError)
        assert error.reason and len(error.reason) < 40 and str(error) == error.reason


# -- secrets -------------------------------------------------------------------------


def test_new_secret_is_whsec_plus_24_random_bytes():
    secret = new_secret(lambda n: bytes(range(n)))
    assert secret == "whsec_" + base64.b64encode(bytes(range(24))).decode()
    assert len(decode_secret(new_secret())) == 24
    assert new_secret() != new_secret()


@pytest.mark.parametrize("bad", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not*base64"])
def test_malformed_secrets_are_refused(bad):
    with pytest.raises(ValueError):
        decode_secret(bad)


def test_unpadded_base64_secret_is_accepted():
    padded = "whsec_" + base64.b64encode(b"0123456789abcdefghijklm").decode()
    assert padded.endswith("=")
    assert decode_secret(padded.rstrip("=")) == decode_secret(padded)


def test_signing_refuses_an_id_with_a_full_stop():
    with pytest.raises(ValueError):
        sign_standard(SECRET, "msg.1", TIMESTAMP, BODY)


# -- GitHub ----------------------------------------------------------------------------


def test_github_verify_accepts_its_own_signature():
    verify_github("s3cret", sign_github("s3cret", b"{}"), b"{}")


@pytest.mark.parametrize("header", ["sha256=" + "0" * 64, "sha1=abc", "sha256=ü", "garbage"])
def test_github_verify_rejects_wrong_or_malformed_signatures(header):
    with pytest.raises(NoMatchingSignature):
        verify_github("s3cret", header, b"{}")


def test_github_verify_rejects_a_tampered_body():
    with pytest.raises(NoMatchingSignature):
        verify_github("s3cret", sign_github("s3cret", b'{"a":1}'), b'{"a":2}')


@pytest.mark.parametrize("header", [None, ""])
def test_github_verify_reports_a_missing_header(header):
    with pytest.raises(MissingHeaders):
        verify_github("s3cret", header, b"{}")


# -- differential: the real standardwebhooks library ----------------------------------
