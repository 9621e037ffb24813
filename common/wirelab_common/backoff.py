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

**The convention**:
``k`` numbers the *retries*, counting from 0, so ``k`` is also how many retries
were already made.  Retry ``k`` follows the ``k + 1``-th failed attempt in a
row and waits::

    uniform(0, min(max_delay, base * 2**k))

    retry k:        0      1      2      3    ...
    ceiling:      base  2*base 4*base 8*base  ... up to max_delay

The functions below take ``k`` as their first argument, named ``attempt``: a
reconnect loop keeps ``attempt = 0`` while connected and adds one after each
delay it draws.  A caller that numbers failed attempts from 1 instead (the webhook's
``retry_schedule``, whose trace says "attempt 1/6") passes ``failures - 1``.

The random generator is a parameter, so tests can assert an exact schedule.
This module is pure: no clock, no sleeping, no I/O.
"""

from __future__ import annotations

from typing import Protocol


class Rng(Protocol):
    """What the schedule needs from ``random.Random``: a seeded one makes it exact."""

    def uniform(self, a: float, b: float) -> float: ...


def ceiling(attempt: int, base: float, max_delay: float) -> float:
    """The upper bound of retry number ``attempt`` (k, from 0): ``min(max_delay, base * 2**k)``."""
    # min() before the power would still overflow for huge attempts; cap the exponent.
    return min(max_delay, base * 2 ** min(attempt, 62))


def backoff_delay(attempt: int, base: float, max_delay: float, rng: Rng) -> float:
    """Full jitter: the delay of retry ``attempt`` (k, from 0), drawn from ``[0, ceiling(...)]``."""
    return rng.uniform(0, ceiling(attempt, base, max_delay))
