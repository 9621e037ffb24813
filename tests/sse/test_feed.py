"""The feed is a pure function of its tick counter: same ticks, same events, every run."""

from __future__ import annotations

import pytest

from learn_sse.feed import FEED_TYPES, FeedGenerator, price_step

pytestmark = pytest.mark.pure


def test_the_feed_rotates_its_event_types():
    generator = FeedGenerator()
    kinds = [generator.next_event()[0] for _ in range(7)]
    assert kinds == ["price", "news", "status", "price", "news", "status", "price"]
    assert set(kinds) == set(FEED_TYPES)


def test_two_generators_produce_the_same_events():
    a, b = FeedGenerator(), FeedGenerator()
    assert [a.next_event() for _ in range(50)] == [b.next_event() for _ in range(50)]


def test_the_first_events_are_exactly_these():
    generator = FeedGenerator()
    assert generator.next_event() == ("price", {"tick": 1, "symbol": "WLAB", "price": "99.96"})
    headline = "Bulletin #1: WLAB at 99.94 after 2 ticks"
    assert generator.next_event() == ("news", {"tick": 2, "headline": headline})
    assert generator.next_event() == ("status", {"tick": 3, "state": "ok", "uptime_ticks": 3})


def test_the_price_walk_stays_within_a_band():
    # The steps cycle through -6..+6 cents, which sum to 0: the walk never drifts away.
    assert sorted(price_step(n) for n in range(1, 14)) == list(range(-6, 7))
    generator = FeedGenerator()
    prices = []
    for _ in range(1000):
        generator.next_event()
        prices.append(generator.price_cents)
    assert min(prices) > 9_900 and max(prices) < 10_100
