"""What happens after a failure, and who counts as dead: decisions on a given clock, without Redis.

The worker records every failure with :func:`learn_queue.job.after_failure`
and the reaper judges heartbeats with :func:`learn_queue.reaper.heartbeat_is_dead`;
both take the time as an argument, so a whole retry schedule is checked here
to the exact second, in no time.
"""

from __future__ import annotations

import random

import pytest

from learn_queue.job import Job, after_failure, backoff_seconds
from learn_queue.reaper import heartbeat_is_dead

pytestmark = pytest.mark.pure
T0 = 1_767_225_600.0  # a fixed "now": 2026-01-01T00:00:00Z


def test_a_job_is_retried_at_growing_times_then_dead_after_its_last_retry():
    job = Job(func="learn_queue.jobs.fail", args=[], jid="0" * 24, queue="default", retry=3)
    rng, replay = random.Random(5), random.Random(5)
    now, run_ats = T0, []
    while (run_at := after_failure(job, RuntimeError("no"), now, rng, scale=1.0)) is not None:
        assert run_at == now + backoff_seconds(job.retry_count, replay)  # exactly the schedule
        run_ats.append(run_at)
        now = run_at  # the retry runs when due, and fails again
    assert len(run_ats) == 3 and job.retry_count == 4  # three retries after the first failure
    assert [b - a for a, b in zip([T0, *run_ats], run_ats, strict=False)] == sorted(
        b - a for a, b in zip([T0, *run_ats], run_ats, strict=False))  # growing delays
    assert (job.failed_at, job.retried_at) == (T0, run_ats[-1])  # first and last failure times
    assert (job.error_class, job.error_message) == ("RuntimeError", "no")


def test_a_job_without_retries_is_dead_at_its_first_failure():
    job = Job(func="learn_queue.jobs.fail", args=[], jid="1" * 24, queue="default", retry=0)
    assert after_failure(job, TimeoutError("no result after 1 s"), T0, random.Random(1)) is None
    assert (job.retry_count, job.failed_at, job.error_class) == (1, T0, "TimeoutError")


@pytest.mark.parametrize(("beat", "dead"), [
    (None, True),  # the key expired: its TTL ran out, whatever the clocks say
    (repr(T0 - 4.9).encode(), False),  # 4.9 s old, dead after 5 s: alive
    (repr(T0 - 5.1).encode(), True),  # older than dead_after, though the key still lives
    (repr(T0 + 3.0), False),  # a worker whose clock runs ahead is not dead
])
def test_a_heartbeat_is_judged_by_its_age_on_the_reapers_clock(beat, dead):
    assert heartbeat_is_dead(beat, T0, dead_after=5.0) is dead
