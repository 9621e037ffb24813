"""The fast publisher and subscriber (fast_pubsub.py) against the lesson's: the same records and trace.

Each test runs a lesson :class:`Subscriber` and a :class:`FastSubscriber` side by
side on one Redis, under the same name, and feeds them the same traffic: valid
envelopes from :class:`Publisher` and :class:`FastPublisher`, a channel and a
pattern that both match (two copies), messages that are not envelopes, and a
Redis restart (what is published while they are away is lost to both).  What
they record, and the lines they trace, must be equal.
"""

from __future__ import annotations

import io
import random
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from learn_pubsub.envelope import sequential_ids
from learn_pubsub.fast_pubsub import FastPublisher, FastSubscriber
from learn_pubsub.publisher import Publisher
from learn_pubsub.subscriber import Subscriber
from wirelab_common.redis_server import start_redis
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


class Highest(random.Random):
    """Backoff at its ceiling: a known delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


def both(url: str, **options) -> list[Subscriber]:
    return [kind(url, name="sub", trace=quiet("sub"), **options) for kind in (Subscriber, FastSubscriber)]


def records(sub: Subscriber) -> tuple:
    return sub.deliveries, sub.invalid, sub.trace.stream.getvalue(), sub.machine.state, sub.connects


async def test_both_subscribers_record_and_trace_the_same_traffic(private_redis):
    url = private_redis[1]
    subs = both(url, channels=["orders.created", "users.created"], patterns=["orders.*"])
    for sub in subs:
        await sub.start()
    clock = lambda: 1_767_225_600.0  # noqa: E731
    plain = Publisher(url, quiet("pub"), id_source=sequential_ids("a"), clock=clock)
    fast = FastPublisher(url, quiet("pub"), id_source=sequential_ids("a"), clock=clock)
    try:
        for publisher in (plain, fast):  # the same envelopes, ids included, from each
            assert await publisher.publish("orders.created", {"n": 1}) == 4  # channel + pattern, twice
            assert await publisher.publish("users.created", {"name": "ada"}) == 2
            assert await publisher.publish("orders.paid", [1, 2, 3]) == 2
            assert await publisher.publish("nobody.listens", None) == 0
        async with aioredis.from_url(url) as raw:
            for data in (b"not json", b'{"id": 5}', b"\xff\xfe", b""):
                assert await raw.publish("users.created", data) == 2
        for sub in subs:
            await sub.wait_for_count(2 * 4 + 4)  # per publisher: 2 + 1 + 1 copies
    finally:
        for sub in subs:
            await sub.close()
        await plain.aclose()
        await fast.aclose()
    assert records(subs[1]) == records(subs[0])
    assert plain.receipts == fast.receipts
    assert plain.trace.stream.getvalue() == fast.trace.stream.getvalue()
    assert len(subs[0].invalid) == 4


async def test_both_lose_what_is_published_while_redis_is_away_and_resubscribe(private_redis):
    old_proc, url = private_redis
    subs = both(url, channels=["orders.created"], backoff_base=0.5, backoff_max=0.5, rng=Highest())
    for sub in subs:
        await sub.start()
    publisher = FastPublisher(url, quiet("pub"), id_source=sequential_ids("pub"))
    new_proc = None
    try:
        assert await publisher.publish("orders.created", {"phase": "before"}) == 2
        for sub in subs:
            await sub.wait_for_count(1)
        old_proc.stop()
        for sub in subs:
            await sub.wait_until(lambda s: not s.is_subscribed)
        with pytest.raises(RedisError):  # as the lesson's: nobody to publish to, not even Redis
            await publisher.publish("orders.created", {"phase": "down"})
        new_proc, _ = start_redis(port=urlsplit(url).port)
        gap = await publisher.publish("orders.created", {"phase": "gap"})  # both still in their backoff
        for sub in subs:
            await sub.wait_subscribed(timeout=5)
        assert await publisher.publish("orders.created", {"phase": "after"}) == 2
        for sub in subs:
            await sub.wait_for_count(2)
    finally:
        for sub in subs:
            await sub.close()
        await publisher.aclose()
        if new_proc is not None:
            new_proc.stop()
    assert gap == 0
    assert subs[0].received_ids == subs[1].received_ids == ["pub-1", "pub-4"]
    lesson, fast = (sub.trace.stream.getvalue() for sub in subs)
    assert fast == lesson
    assert "redis gone (Connection closed by server.); reconnect in 0.5 s" in fast
    assert "resubscribed to 1 channel(s), 0 pattern(s)" in fast


async def test_a_fast_subscriber_that_cannot_reach_redis_keeps_trying(private_redis):
    url = private_redis[1]
    port = urlsplit(url).port
    private_redis[0].stop()
    sub = FastSubscriber(url, channels=["orders.created"], name="sub", trace=quiet("sub"),
                         backoff_base=0.1, backoff_max=0.1, rng=Highest())
    proc = None
    try:
        with pytest.raises(TimeoutError):
            await sub.start(timeout=0.5)
        assert sub.machine.state in ("WAITING", "CONNECTING")
        assert "cannot reach redis (Error 111 connecting to" in sub.trace.stream.getvalue()
        proc, _ = start_redis(port=port)
        await sub.wait_subscribed(timeout=5)
        async with aioredis.from_url(url) as admin:
            assert [c["name"] for c in await admin.client_list()].count("sub") == 1  # CLIENT SETNAME
    finally:
        await sub.close()
        if proc is not None:
            proc.stop()
