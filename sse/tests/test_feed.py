"""The feed is a pure function of its tick counter: same ticks, same events, every run."""

from __future__ import annotations

import asyncio
import json

from learn_sse.event_log import EventLog
from learn_sse.feed import FEED_TYPES, FeedGenerator, price_step, run_feed


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


async def test_run_feed_appends_to_the_log_until_it_closes(tmp_path):
    log = EventLog.open(tmp_path, replay=10)
    ticks = 0

    async def fake_sleep(seconds: float) -> None:  # an injected clock: no real waiting
        nonlocal ticks
        ticks += 1
        if ticks == 4:
            log.close()
        await asyncio.sleep(0)

    await asyncio.wait_for(run_feed(log, 1.0, sleep=fake_sleep), 5)
    assert [(e.id, e.type) for e in log.after(0)] == [(1, "price"), (2, "news"), (3, "status")]
    assert json.loads(log.after(0)[0].data)["tick"] == 1
    await log.aclose()
