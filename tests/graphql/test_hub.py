"""The in-process fan-out (auction/hub.py): bounded queues, a slow subscriber cut off, nothing leaked."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from learn_graphql.auction.hub import Hub, SlowSubscriber

pytestmark = pytest.mark.memory


async def test_every_subscription_of_a_topic_gets_every_event_and_others_none():
    hub = Hub()
    lamp_a, lamp_b, clock = hub.listen("lamp"), hub.listen("lamp"), hub.listen("clock")
    firsts = [asyncio.ensure_future(anext(stream)) for stream in (lamp_a, lamp_b, clock)]
    await asyncio.sleep(0)  # each generator registers its queue when it starts
    assert hub.active == 3
    assert hub.publish("lamp", {"seq": 1}) == 2
    assert await firsts[0] == {"seq": 1} and await firsts[1] == {"seq": 1}
    assert not firsts[2].done()
    firsts[2].cancel()  # like a task that stops waiting: the generator ends, its finally runs
    with contextlib.suppress(asyncio.CancelledError):
        await firsts[2]
    for stream in (lamp_a, lamp_b, clock):
        await stream.aclose()
    assert hub.active == 0 and hub.queues == {}


async def test_a_slow_subscriber_is_cut_off_and_the_others_keep_every_event():
    hub = Hub(queue_size=3)
    slow, fast = hub.listen("lamp"), hub.listen("lamp")
    first_slow, first_fast = asyncio.ensure_future(anext(slow)), asyncio.ensure_future(anext(fast))
    await asyncio.sleep(0)
    got = []
    for seq in range(1, 11):
        hub.publish("lamp", seq)  # never waits, whoever lags
        if seq == 1:
            got.append(await first_fast)
        else:
            got.append(await anext(fast))
    assert got == list(range(1, 11))
    assert await first_slow == 1  # it had taken one, then stopped reading
    with pytest.raises(SlowSubscriber, match="more than 3 events behind"):
        await anext(slow)
    assert hub.dropped == 1 and hub.active == 1
    await fast.aclose()
    assert hub.active == 0
