"""Signing and checking the upstream provider's webhooks: pure, no clock, no I/O.

Reading order: **signature** -> envelope -> fanout -> stream -> app -> server -> upstream ->
clients -> demo.

The headers and the signed content are those of Standard Webhooks (v1): three
headers, and one HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{raw body}``
(one simplification: the key is the secret's text, where Standard Webhooks
decodes a base64 ``whsec_`` secret)::

    webhook-id: evt_7
    webhook-timestamp: 1765142400
    webhook-signature: v1,<base64 of the 32-byte HMAC-SHA256>

One MAC answers three questions about a request from a stranger:

- *who sent it*: only a holder of the shared secret can compute it;
- *was it changed*: it covers the body byte for byte.  So the receiver checks the
  raw bytes it read, never ``json.dumps(json.loads(body))``, which may differ;
- *is it a replay*: the timestamp is signed, so an old capture cannot be given a
  fresh one; outside ``tolerance`` seconds it is refused.  Inside the window the
  id is signed too, and the fan-out server's duplicate check (``stream.py``)
  catches the replay by that id.

``now`` is a parameter, so tests pin the clock; the caller passes ``time.time()``.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
VERSION = "v1"
TOLERANCE = 300  # seconds either side of now: clocks disagree a little, in both directions
DEMO_SECRET = "hybrid-demo-secret"  # the demo's shared secret; a real one comes from the provider


class Refused(Exception):
    """The delivery is not authentic; ``reason`` goes into the 401 body and the trace."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What the HMAC covers: id, timestamp and the body as sent, joined by full stops."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>``, the value of ``webhook-signature`` for one secret."""
    if "." in msg_id:
        raise ValueError("a webhook id must not contain '.', the delimiter of the signed content")
    digest = hmac.digest(secret.encode(), signed_content(msg_id, timestamp, body), "sha256")
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one delivery attempt."""
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(timestamp),
            HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body)}


def verify(secrets: Sequence[str], received: Mapping[str, str], body: bytes, *, now: int,
           tolerance: int = TOLERANCE) -> str:
    """Return the delivery's ``webhook-id`` if it is authentic and fresh; raise :class:`Refused` if not.

    ``received`` is a header mapping with lower-case names (Starlette's and httpx's are).
    ``secrets`` holds every secret accepted now: two while one is being rotated.
    """
    msg_id = received.get(HEADER_ID, "")
    raw_timestamp = received.get(HEADER_TIMESTAMP, "")
    signatures = received.get(HEADER_SIGNATURE, "")
    if not (msg_id and raw_timestamp and signatures):
        raise Refused("missing webhook-id, webhook-timestamp or webhook-signature")
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise Refused("webhook-timestamp is not an integer")
    timestamp = int(raw_timestamp)
    # The window first: a stale capture is refused without computing any MAC.
    if timestamp < now - tolerance:
        raise Refused(f"timestamp too old ({now - timestamp} s > {tolerance} s): a replay?")
    if timestamp > now + tolerance:
        raise Refused(f"timestamp {timestamp - now} s in the future")
    content = signed_content(msg_id, timestamp, body)
    # The header may carry several space-separated signatures (a provider rotating its secret).
    offered = [entry[len(VERSION) + 1:].encode() for entry in signatures.split(" ")
               if entry.startswith(VERSION + ",")]
    for secret in secrets:
        expected = base64.b64encode(hmac.digest(secret.encode(), content, "sha256"))
        for candidate in offered:
            # Constant time: a `==` that stops at the first wrong byte would tell an attacker,
            # by its timing, how much of a guessed signature was right.
            if hmac.compare_digest(expected, candidate):
                return msg_id
    raise Refused("signature mismatch")
