"""How long to wait before trying again: exponential backoff with full jitter.

Shared by every pattern that retries: the chat client reconnecting to its
server (websocket), subscribers and stream consumers reconnecting to Redis
(pubsub), the webhook provider retrying a delivery.

When a server restarts, every client loses its connection in the
same instant.  If they all retried at once, and again at once after each failure,
the server would be hit by the whole herd every time it tries to come back.  So:

- the *ceiling* doubles with every failed attempt in a row, up to ``max_delay``
  (a server that stays down is not hammered), and
- the actual delay is drawn uniformly below that ceiling ("full jitter"), which
  spreads the clients over the whole window.

After the n-th failed attempt in a row (n counts from 0) the delay is::

    uniform(0, min(max_delay, base * 2**n))

The random generator is a parameter, so tests can assert an exact schedule.
This module is pure: no clock, no sleeping, no I/O.
"""

from __future__ import annotations

from typing import Protocol


class Rng(Protocol):
    """What the schedule needs from ``random.Random``: a seeded one makes it exact."""

    def uniform(self, a: float, b: float) -> float: ...


def ceiling(attempt: int, base: float, max_delay: float) -> float:
    """The upper bound of the delay after ``attempt`` failures in a row (from 0)."""
    # min() before the power would still overflow for huge attempts; cap the exponent.
    return min(max_delay, base * 2 ** min(attempt, 62))


def backoff_delay(attempt: int, base: float, max_delay: float, rng: Rng) -> float:
    """Full jitter: a delay in ``[0, ceiling(attempt, base, max_delay)]``."""
    return rng.uniform(0, ceiling(attempt, base, max_delay))
