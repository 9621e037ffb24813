"""JSON Web Keys (RFC 7517) and their thumbprints (RFC 7638): first in the reading order.

An ACME account *is* a key pair.  The client sends its public key once, as a
JWK inside the first signed request (``newAccount``); after that it names the
account by URL (``kid``).  The key's thumbprint, a SHA-256 over a canonical
JSON form of the public key, is what challenge responses carry, so a
challenge answer proves which account asked for it.

Pure: keys in, dicts and strings out.  Only EC P-256 (ES256) and RSA (RS256)
keys are made into ``cryptography`` key objects; :func:`thumbprint` works on
any JWK dict (the RFC 8037 ``OKP`` vectors are tested too).
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric import ec, rsa

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# RFC 7638 §3.2: the members that define a key, per key type, and nothing else.
REQUIRED_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), the encoding of every JOSE field."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if "=" in text:
        raise ValueError("base64url in JOSE carries no padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int, length: int | None = None) -> bytes:
    length = length or max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def public_jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """The public JWK of ``key`` (RFC 7518 §6.2 for EC, §6.3 for RSA)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else key
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1):
            raise ValueError(f"only P-256 keys (ES256), not {public.curve.name}")
        numbers = public.public_numbers()
        # Coordinates are fixed-length (32 bytes for P-256), leading zeros kept (RFC 7518 §6.2.1.2).
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(_int_bytes(numbers.x, 32)),
            "y": b64url(_int_bytes(numbers.y, 32)),
        }
    numbers = public.public_numbers()
    return {"kty": "RSA", "n": b64url(_int_bytes(numbers.n)), "e": b64url(_int_bytes(numbers.e))}


def key_from_jwk(jwk: dict) -> PublicKey:
    """The public key a JWK describes; ValueError for anything this CA does not accept."""
    kty = jwk.get("kty")
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise ValueError(f"EC curve {jwk.get('crv')!r} is not supported (P-256 only)")
        x, y = (int.from_bytes(b64url_decode(jwk[c]), "big") for c in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    if kty == "RSA":
        n, e = (int.from_bytes(b64url_decode(jwk[c]), "big") for c in ("n", "e"))
        if n.bit_length() < 2048:
            raise ValueError(f"RSA key of {n.bit_length()} bits is too small (2048 at least)")
        return rsa.RSAPublicNumbers(e, n).public_key()
    raise ValueError(f"key type {kty!r} is not supported (EC or RSA)")


def thumbprint_input(jwk: dict) -> bytes:
    """RFC 7638 §3.1: the required members only, keys sorted, no whitespace, UTF-8."""
    members = REQUIRED_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise ValueError(f"no thumbprint rule for key type {jwk.get('kty')!r}")
    return json.dumps({m: jwk[m] for m in members}, sort_keys=True, separators=(",", ":")).encode()


def thumbprint(jwk: dict) -> str:
    """The base64url SHA-256 thumbprint of a JWK (RFC 7638 §3; ACME uses SHA-256, RFC 8555 §8.1)."""
    return b64url(hashlib.sha256(thumbprint_input(jwk)).digest())
