"""When to try a failed webhook delivery again, and when to give up: the pure retry policy.

Reading order: signatures -> outbox -> group_commit -> **retry_schedule** -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

The dispatcher makes one HTTP attempt and then asks this module what the outcome
means.  Nothing here does I/O: the clock (``now``) and the random generator
(``rng``) are parameters, so a test can assert an exact schedule.

What counts as success (Standard Webhooks, "Delivery success and failure"): a
``2xx`` status and nothing else.  A ``3xx`` is a failure (we never follow
redirects: the subscriber should update its URL, and a redirect to an internal
address would walk straight around the SSRF guard), and so are ``4xx``/``5xx``,
timeouts and refused connections.  ``410 Gone`` means "stop sending": the delivery
dies at once instead of being retried (production would also disable the endpoint).

**Exponential backoff with full jitter** (Standard Webhooks, "Deliverability and
reliability": exponential backoff, plus "some level of random jitter").  Attempts
are numbered from 1, as the trace shows them ("attempt 1/6"); the retries between
them are numbered from 0, as in ``wirelab_common.backoff``: after attempt n fails,
retry k = n - 1 follows, and waits::

    delay = uniform(0, min(cap, base * 2**k))

    attempt n:      1     2     3     4     5     6
    retry k:           0     1     2     3     4
    ceiling (s):      0.5    1     2     4     8        (base 0.5, cap 30)
                  fail  fail  fail  fail  fail  fail -> DEAD after 6 attempts

The ceiling doubles, so a receiver that stays down is not hammered; the random
draw below the ceiling spreads retries out, so the deliveries that failed
together during an outage do not all come back in the same instant, which could
knock the receiver over again.  The spec's example schedule spans three days
(5 s, 5 min, 30 min, 2 h ... 24 h); ours is in seconds so that a demo and a test
see the whole life of a delivery.

A ``Retry-After`` header (delta-seconds) on the failed response raises the delay
to at least that much, capped like the rest (the spec asks senders to take it
into account).  Its HTTP-date form is ignored here: one more parser for a rare case.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirelab_common.backoff import Rng, backoff_delay, ceiling

# The defaults, defined here only: RetryPolicy() and the provider's command line use them.
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BACKOFF_BASE = 0.5  # seconds: the ceiling of the first retry's delay (k = 0)
DEFAULT_BACKOFF_CAP = 30.0  # seconds: no delay is ever longer


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a delivery gets, and how the delays between them grow."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"base and cap must be >= 0, got base={self.base} cap={self.cap}")

    def ceiling(self, failed_attempts: int) -> float:
        """The longest delay after attempt n = ``failed_attempts`` failed (from 1): retry k = n - 1."""
        return ceiling(failed_attempts - 1, self.base, self.cap)

    def delay(self, failed_attempts: int, rng: Rng) -> float:
        """Full jitter after attempt n failed: drawn from ``[0, ceiling(n)]`` (``wirelab_common.backoff``)."""
        return backoff_delay(failed_attempts - 1, self.base, self.cap, rng)

    def schedule(self, rng: Rng) -> list[float]:
        """Every delay of a delivery that always fails: ``max_attempts - 1`` of them.

        The dispatcher draws from its generator once per retry and for nothing else,
        so a provider started with ``--seed N`` and a single failing delivery waits
        exactly ``schedule(random.Random(N))``.
        """
        return [self.delay(n, rng) for n in range(1, self.max_attempts)]


# -- What one attempt's outcome means ---------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """The receiver answered 2xx: done."""


@dataclass(frozen=True)
class Retry:
    """Try again at ``at`` (unix time), ``delay`` seconds from the failure."""

    delay: float
    at: float


@dataclass(frozen=True)
class GiveUp:
    """No more attempts: the delivery is dead until someone redelivers it."""

    reason: str


Outcome = Delivered | Retry | GiveUp


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status <= 299


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After: 120`` -> 120.0; absent, an HTTP-date or garbage -> None."""
    if value is None or not value.strip().isdecimal():
        return None
    return float(value.strip())


def decide(policy: RetryPolicy, attempt: int, status: int | None, now: float, rng: Rng,
           retry_after: float | None = None) -> Outcome:
    """The outcome of attempt number ``attempt`` (from 1), which got ``status``.

    ``status`` is None when no response came back at all (timeout, connection
    refused, the SSRF guard refused the address).  The generator is used only for
    a retry, so a seeded schedule does not depend on how many attempts succeeded.
    """
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    if is_success(status):
        return Delivered()
    if status == 410:
        return GiveUp("410 Gone: the receiver asked us to stop sending")
    if attempt >= policy.max_attempts:
        return GiveUp(f"{attempt} attempts")
    delay = policy.delay(attempt, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.cap))
    return Retry(delay, now + delay)
