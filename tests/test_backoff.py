"""The reconnect schedule, without Redis or sleeping: exponential ceiling, full jitter."""

from __future__ import annotations

import random

from wirelab_common.backoff import backoff_delay, ceiling


class Highest(random.Random):
    """Always draws the top of the range: the schedule's ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_ceiling_doubles_per_failed_attempt_up_to_the_maximum():
    assert [ceiling(n, 0.1, 2.0) for n in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


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
