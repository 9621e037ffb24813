"""Signed requests: JWS in the flattened JSON serialization (RFC 7515), as ACME profiles it (RFC 8555 §6.2).

Second in the reading order, after ``jwk.py``.  Every ACME POST body is::

    {"protected": b64url(header), "payload": b64url(body), "signature": b64url(sig)}

where the signature covers ``protected + "." + payload`` (the signing input)
and the protected header carries:

- ``alg``: ES256 or RS256 here (never ``none``, never a MAC: §6.2);
- ``nonce``: one the server handed out, used once (§6.5: replay protection);
- ``url``: the URL the request is sent to, so a signed body cannot be
  replayed against another resource (§6.4);
- exactly one of ``jwk`` (the public key, only for ``newAccount`` and
  revocation by certificate key) or ``kid`` (the account URL).

A POST-as-GET (§6.3) is the same with an empty payload: the way ACME reads a
resource while still proving who asks.

ES256 signatures are the raw 64 bytes r || s (RFC 7518 §3.4), not the DER
that ``cryptography`` produces, hence the two conversions below.

Pure: keys and bytes in, dicts out; :func:`verify` raises :class:`JwsError`
with the RFC 8555 error type the server should answer with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .jwk import PrivateKey, PublicKey, b64url, b64url_decode, public_jwk

ALGORITHMS = ("ES256", "RS256")


class JwsError(Exception):
    """A request body that is not an acceptable JWS; ``problem`` is the RFC 8555 §6.7 type to answer with."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem, self.detail = problem, detail


def algorithm_for(key: PrivateKey | PublicKey) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) else "RS256"


def raw_signature(key: PrivateKey, signing_input: bytes) -> bytes:
    """Sign: ES256 as r || s, 32 bytes each; RS256 as PKCS#1 v1.5 over SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def check_signature(key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """True if ``signature`` is ``alg`` by ``key`` over ``signing_input``; an alg/key mismatch is False."""
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return True
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def sign(
    key: PrivateKey, payload: dict | None, *, url: str, nonce: str | None, kid: str | None = None
) -> dict:
    """The flattened JWS of ``payload`` (None: POST-as-GET, an empty payload) for ``url``.

    Without ``kid`` the header carries the public ``jwk`` (newAccount).  ``nonce``
    None leaves it out, for the JWS inside a keyChange or for tests of a CA that
    must refuse it.
    """
    header: dict = {"alg": algorithm_for(key), "url": url}
    if nonce is not None:
        header["nonce"] = nonce
    if kid is not None:
        header["kid"] = kid
    else:
        header["jwk"] = public_jwk(key)
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = "" if payload is None else b64url(json.dumps(payload, separators=(",", ":")).encode())
    signature = raw_signature(key, f"{protected}.{body}".encode())
    return {"protected": protected, "payload": body, "signature": b64url(signature)}


@dataclass(frozen=True)
class Jws:
    """A parsed (not yet verified) request: header, payload, and what the signature covers."""

    protected: dict
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def post_as_get(self) -> bool:
        return self.payload == b""

    def json(self) -> dict:
        try:
            value = json.loads(self.payload)
        except ValueError as error:
            raise JwsError("malformed", f"the payload is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise JwsError("malformed", "the payload is not a JSON object")
        return value


def parse(body: bytes) -> Jws:
    """Parse a flattened JWS and check the header's shape (RFC 8555 §6.2); no signature check yet."""
    try:
        outer = json.loads(body)
        protected_b64, payload_b64, sig_b64 = outer["protected"], outer["payload"], outer["signature"]
        header = json.loads(b64url_decode(protected_b64))
        payload, signature = b64url_decode(payload_b64), b64url_decode(sig_b64)
    except (ValueError, KeyError, TypeError) as error:
        raise JwsError("malformed", f"not a flattened JWS: {error!r}") from None
    if not isinstance(header, dict):
        raise JwsError("malformed", "the protected header is not a JSON object")
    if set(outer) - {"protected", "payload", "signature"}:
        raise JwsError("malformed", "an unprotected header is not allowed (RFC 8555 §6.2)")
    if header.get("alg") not in ALGORITHMS:
        raise JwsError("badSignatureAlgorithm", f"alg {header.get('alg')!r} is not one of {list(ALGORITHMS)}")
    if ("jwk" in header) == ("kid" in header):
        raise JwsError("malformed", "the protected header needs exactly one of 'jwk' and 'kid'")
    if "url" not in header:
        raise JwsError("unauthorized", "the protected header has no 'url' (RFC 8555 §6.4)")
    return Jws(header, payload, f"{protected_b64}.{payload_b64}".encode(), signature)


def verify(jws: Jws, key: PublicKey, *, url: str) -> None:
    """Raise :class:`JwsError` unless ``jws`` is signed by ``key`` and addressed to ``url``."""
    if jws.protected["url"] != url:
        raise JwsError("unauthorized", f"signed for {jws.protected['url']!r}, sent to {url!r}")
    if not check_signature(key, jws.protected["alg"], jws.signing_input, jws.signature):
        raise JwsError("unauthorized", "the signature does not verify with the account's key")
