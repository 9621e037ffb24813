"""The retry policy, pure: exact schedules from a seeded generator, and what each outcome means.

No clock and no sleeping: ``now`` is a number and the generator is a parameter.
"""

from __future__ import annotations

import random

import pytest

from learn_webhook.retry_schedule import (
    Delivered,
    GiveUp,
    Retry,
    RetryPolicy,
    decide,
    is_success,
    parse_retry_after,
)

pytestmark = pytest.mark.pure


class Ceiling:
    """A generator that always draws the top of the range: the schedule's ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


class NoDraws:
    """A generator that must not be used."""

    def uniform(self, a: float, b: float) -> float:
        raise AssertionError("the generator was used")


def test_ceilings_double_from_base_until_the_cap():
    assert RetryPolicy(max_attempts=6, base=0.5, cap=30).schedule(Ceiling()) == [0.5, 1, 2, 4, 8]
    assert RetryPolicy(max_attempts=8, base=1, cap=5).schedule(Ceiling()) == [1, 2, 4, 5, 5, 5, 5]


def test_a_seeded_generator_gives_an_exact_schedule():
    # random.Random is Mersenne Twister and uniform(a, b) = a + (b - a) * random(): the same
    # numbers on every platform and Python version, so they can be written down.
    schedule = RetryPolicy(max_attempts=6, base=0.5, cap=30).schedule(random.Random(42))
    assert schedule == pytest.approx([0.3197133992289419, 0.025010755222666936, 0.5500586367382385,
                                      0.892842952595291, 5.891769713312099])
    again = RetryPolicy(max_attempts=6, base=0.5, cap=30).schedule(random.Random(42))
    assert again == schedule


def test_full_jitter_draws_anywhere_between_zero_and_the_ceiling():
    policy = RetryPolicy(max_attempts=6, base=0.5, cap=3)
    rng = random.Random(1)
    for failed in range(1, 6):
        draws = [policy.delay(failed, rng) for _ in range(2000)]
        ceiling = policy.ceiling(failed)
        assert 0 <= min(draws) < 0.05 * ceiling and 0.95 * ceiling < max(draws) <= ceiling


def test_a_delivery_with_one_attempt_has_no_retries():
    assert RetryPolicy(max_attempts=1).schedule(NoDraws()) == []


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered_and_draws_nothing(status):
    assert decide(RetryPolicy(), 1, status, now=100.0, rng=NoDraws()) == Delivered()


@pytest.mark.parametrize("status", [None, 100, 301, 304, 400, 401, 404, 429, 500, 503])
def test_everything_else_is_a_failure_retried_after_a_jittered_delay(status):
    outcome = decide(RetryPolicy(max_attempts=6, base=0.5, cap=30), 3, status, now=100.0, rng=Ceiling())
    assert outcome == Retry(delay=2.0, at=102.0)  # after the 3rd failure the ceiling is 0.5 * 2**2


def test_the_last_attempt_gives_up():
    outcome = decide(RetryPolicy(max_attempts=6), 6, 503, now=100.0, rng=NoDraws())
    assert outcome == GiveUp("6 attempts")


def test_410_gone_gives_up_at_once():
    outcome = decide(RetryPolicy(max_attempts=6), 1, 410, now=100.0, rng=NoDraws())
    assert isinstance(outcome, GiveUp) and "410" in outcome.reason


def test_retry_after_raises_the_delay_but_never_past_the_cap():
    policy = RetryPolicy(max_attempts=6, base=0.5, cap=30)
    assert decide(policy, 1, 503, now=0.0, rng=Ceiling(), retry_after=7) == Retry(7.0, 7.0)
    assert decide(policy, 1, 503, now=0.0, rng=Ceiling(), retry_after=3600) == Retry(30.0, 30.0)
    assert decide(policy, 1, 503, now=0.0, rng=Ceiling(), retry_after=0) == Retry(0.5, 0.5)


def test_retry_after_is_read_in_its_delta_seconds_form_only():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 5 ") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None and parse_retry_after(None) is None


def test_success_means_200_to_299():
    assert [is_success(s) for s in (None, 199, 200, 299, 300)] == [False, False, True, True, False]


def test_nonsense_policies_and_attempt_numbers_are_refused():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base and cap"):
        RetryPolicy(base=-1)
    with pytest.raises(ValueError, match="count from 1"):
        decide(RetryPolicy(), 0, 500, now=0.0, rng=Ceiling())
