"""The ABR rule and the buffer model, on exact numbers (no clock, no network)."""

from __future__ import annotations

import pytest

from learn_streaming.abr import Rule, ThroughputEstimator
from learn_streaming.buffer import BufferModel

pytestmark = pytest.mark.pure

LADDER = [150_000, 400_000, 900_000]


def test_the_estimate_is_the_harmonic_mean_of_the_last_samples():
    estimator = ThroughputEstimator(window=3)
    assert estimator.estimate is None
    for size in (100_000, 100_000, 100_000, 25_000):  # 800k, 800k, 800k, 200k bit/s over 1 s each
        estimator.add(size, 1.0)
    assert estimator.estimate == pytest.approx(3 / (1 / 800_000 + 1 / 800_000 + 1 / 200_000))


def test_a_slow_link_steps_down_at_once_as_far_as_the_budget_says():
    decision = Rule().choose(LADDER, current=2, throughput=300_000, buffer_level=10)
    assert decision.index == 0 and decision.reason.startswith("down")  # 300k x 0.8 = 240k: only 150k fits


def test_a_fast_link_steps_up_one_rendition_at_a_time():
    assert Rule().choose(LADDER, current=0, throughput=5_000_000, buffer_level=5).index == 1


def test_no_step_up_while_the_buffer_is_low():
    decision = Rule().choose(LADDER, current=0, throughput=5_000_000, buffer_level=1)
    assert decision.index == 0 and "buffer" in decision.reason


def test_the_safety_factor_keeps_a_reserve():
    assert Rule(safety=0.8).choose(LADDER, 1, throughput=1_000_000, buffer_level=9).index == 1
    assert Rule(safety=1.0).choose(LADDER, 1, throughput=1_000_000, buffer_level=9).index == 2


def test_abr_off_never_moves():
    assert Rule(enabled=False).choose(LADDER, 2, throughput=1_000, buffer_level=0).index == 2


def test_the_buffer_plays_what_arrived_and_counts_a_stall_when_it_runs_dry():
    model = BufferModel(startup=1.0)
    model.advance(0.5)  # waiting for the first frame: not a stall
    model.add(2.0)
    assert model.playing and model.startup_wait == 0.5
    model.advance(1.5)
    assert model.level == pytest.approx(0.5) and model.position == pytest.approx(1.5)
    model.advance(1.0)  # 0.5 s of media for 1 s of wall time: frozen for 0.5 s
    assert not model.playing and len(model.stalls) == 1 and model.stalled_seconds == pytest.approx(0.5)
    model.advance(0.25)
    model.add(2.0)  # playback resumes once `startup` seconds are buffered
    assert model.playing and model.stalled_seconds == pytest.approx(0.75) and len(model.stalls) == 1
