"""The message envelope: what every publisher sends and every subscriber checks.

Reading order: resp -> resp_client -> **envelope** -> publisher -> subscriber ->
slow_subscriber -> streams.

Redis moves opaque bytes: ``PUBLISH channel message`` and ``XADD stream * field
value`` never look inside.  Everything an application needs to reason about a
message -- which one it is, what it is about, when it was made -- has to travel
*inside* those bytes.  Ours is one JSON object with four fields::

    {"id": "pub-7", "payload": {"order": 42}, "timestamp": 1767225600.0, "topic": "orders.created"}

- ``id``: unique per message.  It is how a subscriber notices a duplicate (streams
  deliver *at least once*) and how a test names exactly the messages it missed
  (pub/sub delivers *at most once*).  Redis's own stream entry IDs (``1767...-0``)
  exist only for streams, and differ from one stream to the next; ours survive
  being copied anywhere.
- ``topic``: the channel (or stream) the publisher meant.  A subscriber on a
  pattern such as ``orders.*`` learns the real channel from Redis, and checks it
  against this field.
- ``timestamp``: seconds since the epoch, from the publisher's clock.
- ``payload``: any JSON value; the application's business.

This module is pure: no Redis, no clock, no randomness.  The id source and the
clock are parameters (:func:`make_envelope`), so tests can assert exact bytes.

A subscriber must validate what it receives: anyone who can reach Redis can
PUBLISH anything (``redis-cli publish orders.created oops``).  :func:`decode`
raises :class:`EnvelopeError` naming the first problem it found, and subscribers
count and trace such messages instead of dying on them.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIELDS = ("id", "topic", "timestamp", "payload")


class EnvelopeError(ValueError):
    """A received message is not a valid envelope; the text says why."""


@dataclass(frozen=True)
class Envelope:
    id: str
    topic: str
    timestamp: float
    payload: Any


def sequential_ids(prefix: str) -> Callable[[], str]:
    """An id source: ``prefix-1``, ``prefix-2``, ...  (predictable, so tests can name ids).

    Production would use something unique across processes and restarts (a UUID,
    a ULID, or the publisher's name plus a persisted counter).
    """
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def make_envelope(topic: str, payload: Any, *, id_source: Callable[[], str],
                  clock: Callable[[], float]) -> Envelope:
    """A new envelope, stamped with the next id and the current time."""
    envelope = Envelope(id_source(), topic, clock(), payload)
    _validate(envelope)  # refuse to send what a subscriber would reject
    return envelope


def encode(envelope: Envelope) -> str:
    """Compact JSON with sorted keys: one envelope always has exactly one encoding."""
    _validate(envelope)
    fields = {"id": envelope.id, "topic": envelope.topic, "timestamp": envelope.timestamp,
              "payload": envelope.payload}
    try:
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"payload is not JSON-serialisable: {exc}") from None


def decode(data: str | bytes, *, channel: str | None = None) -> Envelope:
    """Parse and validate one message; ``channel`` (where it arrived) must match its topic.

    Fields beyond the four are ignored, so that a newer publisher can add one
    without breaking older subscribers (the usual rule for evolving a format).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        fields = json.loads(data)
    except ValueError as exc:
        raise EnvelopeError(f"not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(fields, dict):
        raise EnvelopeError(f"expected a JSON object, got {type(fields).__name__}")
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise EnvelopeError(f"missing field(s): {', '.join(missing)}")
    envelope = Envelope(fields["id"], fields["topic"], fields["timestamp"], fields["payload"])
    _validate(envelope)
    if channel is not None and envelope.topic != channel:
        raise EnvelopeError(f"topic {envelope.topic!r} does not match channel {channel!r}")
    return envelope


def _validate(envelope: Envelope) -> None:
    if not isinstance(envelope.id, str) or not envelope.id:
        raise EnvelopeError(f"id must be a non-empty string, got {envelope.id!r}")
    topic = envelope.topic
    if not isinstance(topic, str) or not topic or any(c.isspace() for c in topic):
        raise EnvelopeError(f"topic must be a non-empty string without spaces, got {topic!r}")
    ts = envelope.timestamp
    # bool is an int in Python, and json.loads turns `true` into True: exclude it.
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts) or ts < 0:
        raise EnvelopeError(f"timestamp must be a non-negative number of seconds, got {ts!r}")
