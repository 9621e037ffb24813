"""Webhook signatures, written from scratch: Standard Webhooks (v1) and GitHub's sha256.

Reading order: **signatures** -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.
Both sides start here: the provider signs, the receiver verifies, and both call
this module and nothing else for it.  Provider side: outbox to provider; receiver
side: inbox to receiver.

A webhook is an HTTP request from a stranger.  Anyone who learns the URL can POST
to it, so the receiver must check that the request was made by someone who holds
the shared secret, that nobody changed a byte on the way, and that it is not an
old request played again.  One HMAC over (id, timestamp, body) does all three.

This module is pure: bytes, strings and integers in, strings or an exception out.
There is no clock (``timestamp`` and ``now`` are parameters, so tests can pin the
spec's example to the second) and no randomness except in :func:`new_secret`.

Spec: Standard Webhooks 1.0.0, https://www.standardwebhooks.com
(github.com/standard-webhooks/standard-webhooks, ``spec/standard-webhooks.md``),
section "Verifying webhook authenticity" and its subsections "Webhook metadata",
"Signature scheme", "Webhook headers" and "Verifying signatures".
GitHub: "Validating webhook deliveries" in GitHub's webhook documentation.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping, Sequence

SECRET_PREFIX = "whsec_"        # "Signature scheme": symmetric secrets are shown as whsec_<base64>
SIGNATURE_VERSION = "v1"        # v1 = HMAC-SHA256; v1a (ed25519) and anything newer we skip
DEFAULT_TOLERANCE = 300         # seconds either side of `now`; the reference library uses 5 minutes
SECRET_BYTES = 24               # the spec's minimum: 24 random bytes (192 bits)

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
GITHUB_HEADER = "x-hub-signature-256"


class SignatureError(Exception):
    """Verification failed; ``reason`` is short enough for a 401 body and a trace line."""

    reason = "signature error"

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or type(self).reason
        super().__init__(self.reason)


class MissingHeaders(SignatureError):
    reason = "missing signature headers"


class BadTimestamp(SignatureError):
    reason = "bad timestamp format"


class TimestampTooOld(SignatureError):
    reason = "timestamp too old"


class TimestampTooNew(SignatureError):
    reason = "timestamp too far in the future"


class NoMatchingSignature(SignatureError):
    reason = "signature mismatch"


# -- secrets -------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a receiver decodes the same few secrets for every delivery
def decode_secret(secret: str) -> bytes:
    """The HMAC key inside ``whsec_<base64>``: the decoded bytes, not the text.

    A common mistake is to use the whole string (prefix included) as the key;
    the signatures then look fine but no other implementation can verify them.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a Standard Webhooks secret starts with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX):]
    encoded += "=" * (-len(encoded) % 4)  # some providers drop the base64 padding
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the part after whsec_ is not base64") from None
    if not key:
        raise ValueError("empty webhook secret")
    return key


def new_secret(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh ``whsec_`` secret of 24 random bytes; pass ``random_bytes`` to make it repeatable."""
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode("ascii")


# -- Standard Webhooks: signing ------------------------------------------------------


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """``{msg_id}.{timestamp}.{body}``: what the HMAC covers ("Signature scheme").

    The id and the timestamp are signed with the body.  Were only the body signed,
    an attacker could replay a captured request with a fresh timestamp (defeating
    the replay window) or a fresh id (defeating the receiver's duplicate check).

    ``body`` stays bytes, exactly as sent.  The receiver must verify the raw bytes
    it read off the wire, never ``json.dumps(json.loads(body))``: re-serializing
    changes spacing, key order or number formatting, and one changed byte is a
    different HMAC.
    """
    return f"{msg_id}.{timestamp}.".encode() + body


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    # hmac.digest is the one-shot form of hmac.new(...).digest(): same bytes, done in C.
    return hmac.digest(key, message, "sha256")


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64 HMAC-SHA256>``, as it appears in ``webhook-signature``."""
    if "." in msg_id:
        # The spec forbids it: the full stop is the delimiter of the signed content.
        raise ValueError("a webhook id must not contain '.'")
    digest = _hmac_sha256(decode_secret(secret), signed_content(msg_id, timestamp, body))
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def standard_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three ``webhook-*`` headers ("Webhook headers").

    With several secrets the body is signed once per secret and the signatures are
    space-separated: that is how a secret is rotated with zero downtime.  The
    provider signs with the old and the new secret for a while; a receiver that
    knows either one finds a match.
    """
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    signatures = " ".join(sign_standard(secret, msg_id, timestamp, body) for secret in secrets)
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(timestamp), HEADER_SIGNATURE: signatures}


# -- Standard Webhooks: verifying ----------------------------------------------------


def _candidate_signatures(header: str) -> list[bytes]:
    """The base64 text of each v1 signature in a ``webhook-signature`` header.

    Other versions (``v1a`` is ed25519) are skipped, not errors: a provider may
    send several schemes side by side and we check the one we know.  We compare
    base64 text with base64 text rather than decoding every candidate: the
    encoding is canonical, so equal digests have equal text, and an entry that
    is not valid base64 simply never matches.
    """
    prefix = SIGNATURE_VERSION + ","
    return [entry[len(prefix):].encode() for entry in header.split(" ") if entry.startswith(prefix)]


def check_timestamp(timestamp: int, *, now: int, tolerance: int = DEFAULT_TOLERANCE) -> None:
    """Accept ``timestamp`` only within ``[now - tolerance, now + tolerance]`` (both ends included).

    Why a window at all: a captured request carries a valid signature forever.
    Because the timestamp is signed, an attacker cannot refresh it, so a replay
    stops working ``tolerance`` seconds after the original attempt.  (Within the
    window, the receiver's ``webhook-id`` duplicate check catches replays.)

    Why symmetric: the provider's clock and ours disagree a little in either
    direction.  A timestamp far in the future is as suspicious as an old one: a
    signature made ahead of time would otherwise outlive the window.
    """
    if timestamp < now - tolerance:
        raise TimestampTooOld()
    if timestamp > now + tolerance:
        raise TimestampTooNew()


def verify_standard(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, *,
                    now: int, tolerance: int = DEFAULT_TOLERANCE) -> str:
    """Check a delivery ("Verifying signatures"); return its ``webhook-id`` or raise SignatureError.

    ``headers`` may be any mapping; names are compared case-insensitively, as HTTP says.
    ``secrets`` are all the secrets we currently accept (more than one while rotating).
    """
    # Most header maps are already lower-case (HTTP/2, Starlette's Headers, httpx);
    # only when a name is not found that way do we fold the case of every name.
    get = headers.get
    msg_id, raw_timestamp, signature_header = get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE)
    if not (msg_id and raw_timestamp and signature_header):
        get = {name.lower(): value for name, value in headers.items()}.get
        msg_id, raw_timestamp, signature_header = get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE)
    if not (msg_id and raw_timestamp and signature_header):
        names = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
        raise MissingHeaders(f"missing {', '.join(name for name in names if not get(name))}")

    # "integer unix timestamp": digits only, so " 12", "1e9" and "12.5" are refused.
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise BadTimestamp()
    timestamp = int(raw_timestamp)
    check_timestamp(timestamp, now=now, tolerance=tolerance)

    candidates = _candidate_signatures(signature_header)
    content = signed_content(msg_id, timestamp, body)
    for secret in secrets:
        expected = base64.b64encode(_hmac_sha256(decode_secret(secret), content))
        for candidate in candidates:
            # Constant time: `==` stops at the first differing byte, so how long a
            # wrong guess takes to be refused leaks how many leading bytes were
            # right.  Measured often enough, that lets an attacker build a valid
            # signature byte by byte; the receiver would become a signing oracle.
            if hmac.compare_digest(expected, candidate):
                return msg_id
    raise NoMatchingSignature()


# -- GitHub: X-Hub-Signature-256 -----------------------------------------------------


def sign_github(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``, GitHub's ``X-Hub-Signature-256`` value.

    GitHub's key is the secret's text (UTF-8), and only the body is signed: no id
    and no timestamp, so this scheme has no replay window.  A receiver relies on
    the ``X-GitHub-Delivery`` id (and its duplicate check) instead.
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github(secret: str, header_value: str | None, body: bytes) -> None:
    """Return if ``header_value`` is the right ``X-Hub-Signature-256``; raise SignatureError if not."""
    if not header_value:
        raise MissingHeaders(f"missing {GITHUB_HEADER}")
    expected = sign_github(secret, body).encode()
    # Compared as bytes: compare_digest refuses str with non-ASCII characters,
    # and a forged header may well contain some.  Constant time for the same
    # reason as in verify_standard.
    if not hmac.compare_digest(expected, header_value.strip().encode()):
        raise NoMatchingSignature()
