"""The reconnect schedule, without Redis or sleeping: exponential ceiling, full jitter."""

from __future__ import annotations

import random
import re

import wirelab_common.backoff as backoff
from wirelab_common.backoff import backoff_delay, ceiling


class Highest(random.Random):
    """Always draws the top of the range: the schedule's ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_ceiling_doubles_per_failed_attempt_up_to_the_maximum():
    assert [ceiling(n, 0.1, 2.0) for n in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_the_first_retry_is_k_0_and_its_ceiling_is_base_as_the_docstring_says():
    # The docstring's formula, evaluated as written, against the code, retry by retry.
    [formula] = re.findall(r"uniform\(0, (min\(max_delay, base \* 2\*\*k\))\)", backoff.__doc__ or "")
    for base, max_delay in ((0.1, 2.0), (0.5, 30.0), (1.0, 1.0)):
        for k in range(10):
            names = {"min": min, "base": base, "max_delay": max_delay, "k": k}
            written = eval(formula, {"__builtins__": {}}, names)
            assert ceiling(k, base, max_delay) == written
            assert backoff_delay(k, base, max_delay, Highest()) == written
    assert ceiling(0, 0.25, 9.0) == 0.25  # retry 0: not base / 2, not 2 * base


def test_the_ceiling_does_not_overflow_after_very_many_attempts():
    assert ceiling(10_000, 0.1, 5.0) == 5.0


def test_full_jitter_draws_between_zero_and_the_ceiling():
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.1, 2.0, rng) for n in range(200)]
    assert all(0.0 <= d <= ceiling(n, 0.1, 2.0) for n, d in enumerate(delays))
    assert len(set(delays)) == len(delays)  # spread out, not one value for every client


def test_a_seeded_generator_gives_a_reproducible_schedule():
    first = [backoff_delay(n, 0.1, 5.0, random.Random(42)) for n in range(5)]
    again = [backoff_delay(n, 0.1, 5.0, random.Random(42)) for n in range(5)]
    assert first == again


def test_an_injected_generator_decides_the_exact_delays():
    assert [backoff_delay(n, 0.25, 1.0, Highest()) for n in range(4)] == [0.25, 0.5, 1.0, 1.0]
