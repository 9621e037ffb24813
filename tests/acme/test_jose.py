"""JWK thumbprints and JWS signatures against the RFCs' own examples, and the CA's refusals."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from learn_acme import jwk, jws

pytestmark = pytest.mark.pure

# RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "alg": "RS256",
    "kid": "2011-04-29",
    "e": "AQAB",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
        "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
        "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
        "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
}
# RFC 7515 Appendix A.3: an ES256 JWS and its P-256 key.
A3_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
A3_PROTECTED = "eyJhbGciOiJFUzI1NiJ9"
A3_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
A3_SIGNATURE = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"


def test_rfc7638_thumbprint_of_the_rsa_example_key():
    assert jwk.thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_input_keeps_only_the_required_members_in_order():
    assert jwk.thumbprint_input(RFC7638_KEY).startswith(b'{"e":"AQAB","kty":"RSA","n":"0vx7')


def test_rfc8037_thumbprint_of_the_ed25519_example_key():
    okp = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk.thumbprint(okp) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc7515_a3_es256_signature_verifies_and_a_changed_payload_does_not():
    key = jwk.key_from_jwk(A3_KEY)
    sig = jwk.b64url_decode(A3_SIGNATURE)
    assert jws.check_signature(key, "ES256", f"{A3_PROTECTED}.{A3_PAYLOAD}".encode(), sig)
    assert not jws.check_signature(key, "ES256", f"{A3_PROTECTED}.{A3_PAYLOAD}x".encode(), sig)
    assert not jws.check_signature(key, "RS256", f"{A3_PROTECTED}.{A3_PAYLOAD}".encode(), sig)


def test_public_jwk_round_trips_and_keeps_leading_zero_bytes():
    for _ in range(20):  # some P-256 coordinates start with a zero byte; the JWK still carries 32
        key = ec.generate_private_key(ec.SECP256R1())
        pub = jwk.public_jwk(key)
        assert len(jwk.b64url_decode(pub["x"])) == 32 and len(jwk.b64url_decode(pub["y"])) == 32
        assert jwk.public_jwk(jwk.key_from_jwk(pub)) == pub


@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP256R1()), lambda: rsa.generate_private_key(65537, 2048)],
    ids=["ES256", "RS256"],
)
def test_a_signed_request_parses_and_verifies(make_key):
    key = make_key()
    body = jws.sign(key, {"termsOfServiceAgreed": True}, url="https://ca/new-acct", nonce="n1")
    parsed = jws.parse(json.dumps(body).encode())
    assert parsed.protected["nonce"] == "n1" and parsed.protected["jwk"] == jwk.public_jwk(key)
    assert parsed.json() == {"termsOfServiceAgreed": True}
    jws.verify(parsed, jwk.key_from_jwk(parsed.protected["jwk"]), url="https://ca/new-acct")


def test_a_request_signed_by_another_key_is_unauthorized():
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    parsed = jws.parse(json.dumps(jws.sign(key, {}, url="u", nonce="n", kid="acct/1")).encode())
    with pytest.raises(jws.JwsError) as caught:
        jws.verify(parsed, other.public_key(), url="u")
    assert caught.value.problem == "unauthorized"


def test_a_request_replayed_to_another_url_is_unauthorized():
    key = ec.generate_private_key(ec.SECP256R1())
    parsed = jws.parse(json.dumps(jws.sign(key, None, url="https://ca/order/1", nonce="n", kid="a")).encode())
    assert parsed.post_as_get
    with pytest.raises(jws.JwsError, match="sent to"):
        jws.verify(parsed, key.public_key(), url="https://ca/order/2")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"alg": "none", "url": "u", "kid": "a"}, "badSignatureAlgorithm"),
        ({"alg": "HS256", "url": "u", "kid": "a"}, "badSignatureAlgorithm"),
        ({"alg": "ES256", "url": "u"}, "malformed"),
        ({"alg": "ES256", "url": "u", "kid": "a", "jwk": A3_KEY}, "malformed"),
        ({"alg": "ES256", "kid": "a"}, "unauthorized"),
    ],
)
def test_headers_rfc8555_forbids_are_refused_with_their_error_type(header, problem):
    body = {"protected": jwk.b64url(json.dumps(header).encode()), "payload": "", "signature": "AA"}
    with pytest.raises(jws.JwsError) as caught:
        jws.parse(json.dumps(body).encode())
    assert caught.value.problem == problem


def test_padding_and_garbage_are_malformed():
    with pytest.raises(ValueError):
        jwk.b64url_decode("AQAB==")
    with pytest.raises(jws.JwsError) as caught:
        jws.parse(b"not json")
    assert caught.value.problem == "malformed"


def test_small_rsa_keys_and_other_curves_are_refused():
    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(ValueError, match="too small"):
        jwk.key_from_jwk(jwk.public_jwk(small))
    with pytest.raises(ValueError, match="P-256"):
        jwk.public_jwk(ec.generate_private_key(ec.SECP384R1()))
