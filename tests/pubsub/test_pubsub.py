"""Pub/sub against a real redis-server: fan-out, patterns, bad input, real peers, and loss.

Every test runs its own throwaway redis-server on a free port (``private_redis``);
the tests that restart Redis start it again on the same port.  The losses are
asserted exactly: which ids were published while nobody listened, and that
PUBLISH said so (0 receivers).
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from learn_pubsub.publisher import Publisher
from learn_pubsub.slow_subscriber import run_lesson
from learn_pubsub.subscriber import Subscriber
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


def quiet(name: str) -> Trace:
    """A trace kept in memory (``trace.stream.getvalue()``), so tests can read it."""
    return Trace(name, stream=io.StringIO())


def port_of(url: str) -> int:
    return urlsplit(url).port or 6379


async def numsub(url: str, channel: str) -> int:
    async with aioredis.from_url(url) as admin:
        return dict(await admin.pubsub_numsub(channel)).get(channel.encode(), 0)


async def wait_numsub(url: str, channel: str, expected: int, timeout: float = 5.0) -> None:
    """Redis notices a closed subscriber connection a moment after the client closed it."""
    async def counted() -> bool:
        return await numsub(url, channel) == expected

    await eventually_async(counted, timeout, f"{expected} subscriber(s) on {channel}", interval=0.02)


@pytest.fixture
def url(private_redis) -> str:
    return private_redis[1]


async def test_every_subscriber_gets_every_message_in_order(url):
    subs = [Subscriber(url, channels=["orders.created"], name=f"sub-{n}", trace=quiet(f"sub-{n}"))
            for n in range(3)]
    for sub in subs:
        await sub.start()
    async with Publisher(url, quiet("pub")) as pub:
        receivers = [await pub.publish("orders.created", {"n": n}) for n in range(5)]
        published = [r.id for r in pub.receipts]
    assert receivers == [3] * 5  # PUBLISH counts the copies it handed out
    for sub in subs:
        await sub.wait_for_count(5)
        assert sub.received_ids == published
        await sub.close()


async def test_a_pattern_gets_orders_created_and_orders_paid_but_not_users_created(url):
    sub = Subscriber(url, patterns=["orders.*"], name="sub-p", trace=quiet("sub-p"))
    await sub.start()
    async with Publisher(url, quiet("pub")) as pub:
        assert await pub.publish("users.created", {"user": 1}) == 0
        assert await pub.publish("orders.created", {"order": 1}) == 1
        assert await pub.publish("orders.paid", {"order": 1}) == 1
    # One connection receives in PUBLISH order: had users.created matched, it
    # would have arrived before these two.
    await sub.wait_for_count(2)
    assert [(d.channel, d.pattern) for d in sub.deliveries] == [
        ("orders.created", "orders.*"), ("orders.paid", "orders.*")]
    await sub.close()


async def test_one_subscriber_listens_to_several_topics_and_patterns(url):
    sub = Subscriber(url, channels=["orders.created", "users.created"], patterns=["payments.*"],
                     name="sub-m", trace=quiet("sub-m"))
    await sub.start()
    async with Publisher(url, quiet("pub")) as pub:
        for topic in ("orders.created", "users.created", "payments.settled", "shipping.sent"):
            await pub.publish(topic, {})
    await sub.wait_for_count(3)
    assert [d.channel for d in sub.deliveries] == ["orders.created", "users.created", "payments.settled"]
    assert "subscribed to 2 channel(s), 1 pattern(s)" in sub.trace.stream.getvalue()
    await sub.close()


async def test_a_channel_and_a_matching_pattern_deliver_one_message_twice(url):
    sub = Subscriber(url, channels=["orders.created"], patterns=["orders.*"], name="sub-2", trace=quiet("s"))
    await sub.start()
    async with Publisher(url, quiet("pub")) as pub:
        assert await pub.publish("orders.created", {}) == 2  # one client, two copies
    await sub.wait_for_count(2)
    assert sub.received_ids == ["pub-1", "pub-1"]
    assert sorted(str(d.pattern) for d in sub.deliveries) == ["None", "orders.*"]
    await sub.close()


async def test_an_offline_subscriber_misses_exactly_what_was_published_while_it_was_away(url):
    async with Publisher(url, quiet("pub")) as pub:
        sub = Subscriber(url, channels=["orders.created"], name="sub-o", trace=quiet("sub-o"))
        await sub.start()
        before = [await pub.publish("orders.created", {"n": n}) for n in range(3)]
        await sub.wait_for_count(3)
        first_run = sub.received_ids
        await sub.close()
        await wait_numsub(url, "orders.created", 0)
        while_away = [await pub.publish("orders.created", {"n": n}) for n in range(3, 6)]
        sub = Subscriber(url, channels=["orders.created"], name="sub-o", trace=quiet("sub-o"))
        await sub.start()
        after = [await pub.publish("orders.created", {"n": n}) for n in range(6, 9)]
        await sub.wait_for_count(3)
        await sub.close()
        published = [r.id for r in pub.receipts]
    assert (before, while_away, after) == ([1] * 3, [0] * 3, [1] * 3)
    received = first_run + sub.received_ids
    assert received == published[:3] + published[6:]
    missed = [i for i in published if i not in received]
    assert missed == ["pub-4", "pub-5", "pub-6"]
    assert missed == [r.id for r in pub.receipts if r.receivers == 0]  # PUBLISH told us


async def test_a_slow_subscriber_is_cut_off_by_client_output_buffer_limit(private_redis):
    proc, url = private_redis
    lesson = await run_lesson(url, count=2000, size=8192, limit="pubsub 64kb 32kb 2", trace=quiet("lesson"))
    assert lesson.closed_by_server  # EOF on a connection we never closed
    assert not lesson.listed_after  # CLIENT LIST no longer has slow-sub
    assert "overcoming of output buffer limits" in proc.output()  # Redis's log says why
    # It got a prefix of the flood (what sat in the kernel buffers), and lost the rest.
    got = len(lesson.slow_received)
    assert 0 < got < 2000
    assert lesson.slow_received == lesson.published[:got]
    assert lesson.slow_missed == lesson.published[got:]
    assert lesson.fast_received == lesson.published  # a subscriber that reads loses nothing
    async with aioredis.from_url(url, decode_responses=True) as admin:  # the lesson restored the limit
        limit = (await admin.config_get("client-output-buffer-limit"))["client-output-buffer-limit"]
    assert "pubsub 33554432 8388608 60" in limit


class Highest(random.Random):
    """Backoff draws the top of its range: the reconnect delay is known in advance."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_after_a_redis_restart_subscribers_resubscribe_and_the_gap_is_lost(private_redis):
    old_proc, url = private_redis
    sub = Subscriber(url, channels=["orders.created", "users.created"], patterns=["orders.*"],
                     name="sub-a", trace=quiet("sub-a"), backoff_base=1.5, backoff_max=1.5, rng=Highest())
    other = Subscriber(url, channels=["users.created"], name="sub-b", trace=quiet("sub-b"), rng=Highest(),
                       backoff_base=1.5, backoff_max=1.5)
    await sub.start()
    await other.start()
    pub = Publisher(url, quiet("pub"))
    new_proc = None
    try:
        assert await pub.publish("users.created", {"phase": "before"}) == 2
        old_proc.stop()  # Redis goes away: every subscription with it
        await sub.wait_until(lambda s: not s.is_subscribed)
        assert sub.machine.state == "WAITING"  # RECONNECT: SUBSCRIBED --lost--> WAITING
        with pytest.raises(RedisError):  # while it is down, PUBLISH does not even happen
            await pub.publish("users.created", {"phase": "down"})
        new_proc, _ = start_redis(port=port_of(url))
        # Redis is back, but our subscribers wait out their 1.5 s backoff: nobody is subscribed.
        gap = [await pub.publish("users.created", {"phase": "gap"}) for _ in range(3)]
        await sub.wait_subscribed(timeout=5)
        await other.wait_subscribed(timeout=5)
        assert await pub.publish("users.created", {"phase": "after"}) == 2
        assert sub.machine.state == "SUBSCRIBED"
        await sub.wait_for_count(2)
        await other.wait_for_count(2)
    finally:
        await sub.close()
        await other.close()
        await pub.aclose()
        if new_proc is not None:
            new_proc.stop()
    assert gap == [0, 0, 0]
    # pub-2 failed outright (never reached Redis); pub-3..5 reached it but nobody was there.
    assert [r.id for r in pub.receipts] == ["pub-1", "pub-3", "pub-4", "pub-5", "pub-6"]
    assert sub.received_ids == other.received_ids == ["pub-1", "pub-6"]
    assert sub.missed(["pub-2", "pub-3", "pub-4", "pub-5"]) == ["pub-2", "pub-3", "pub-4", "pub-5"]
    trace = sub.trace.stream.getvalue()
    assert "redis gone" in trace and "reconnect in 1.5 s" in trace
    assert "resubscribed to 2 channel(s), 1 pattern(s)" in trace
    assert sub.delays[0] == 1.5 and sub.connects == 2


async def test_after_a_restart_only_the_traced_resubscribe_reaches_redis(private_redis):
    # redis-py's PubSub error handler reconnects and resubscribes (on_connect) before it
    # raises, even with retries off.  If Redis is already back, that untraced subscription
    # lives until we close the old connection: PUBLISH counts it, and its message is lost.
    old_proc, url = private_redis
    sub = Subscriber(url, channels=["orders.created"], name="sub-r", trace=quiet("sub-r"),
                     backoff_base=0.3, backoff_max=0.3, rng=Highest())
    await sub.start()
    new_proc = None
    try:
        old_proc.kill()
        # Blocking on purpose: Redis is back before the subscriber can notice it went away.
        new_proc, _ = start_redis(port=port_of(url))
        await sub.wait_until(lambda s: s.connects == 2, timeout=5)
        async with aioredis.from_url(url) as admin:
            stats = await admin.info("commandstats")
    finally:
        await sub.close()
        if new_proc is not None:
            new_proc.stop()
    assert stats["cmdstat_subscribe"]["calls"] == 1  # ours, after the traced backoff; no other
    assert "reconnect in 0.3 s" in sub.trace.stream.getvalue()


async def test_subscriber_cli_prints_its_ready_line_then_what_it_received(url, procs):
    cli = procs.python("learn_pubsub.subscriber", "--redis-url", url, "--channel", "orders.created",
                       "--pattern", "orders.*", "--count", "2", "--name", "sub-a", "--timeout", "10",
                       ready_line="subscribed to")
    async with Publisher(url, quiet("pub")) as pub:
        assert await pub.publish("orders.created", {"n": 1}) == 2
    assert await asyncio.to_thread(cli.popen.wait, 10) == 0, cli.output()
    output = cli.output()
    assert "= sub-a    subscribed to 1 channel(s), 1 pattern(s): orders.created orders.*" in output
    assert "< sub-a    orders.created pub-1 (via orders.*)" in output
    assert "received 2 message(s), 0 invalid: pub-1 pub-1" in output


async def test_a_subscriber_stopped_by_sigterm_prints_its_summary_and_exits_0(url, procs):
    # SIGTERM is how systemd and `docker compose stop` stop a process: the summary must still come.
    cli = procs.python("learn_pubsub.subscriber", "--redis-url", url, "--channel", "orders.created",
                       "--name", "sub-t", ready_line="subscribed to")
    async with Publisher(url, quiet("pub")) as pub:
        assert await pub.publish("orders.created", {"n": 1}) == 1
    await asyncio.to_thread(cli.wait_line, "< sub-t    orders.created pub-1", 5)
    cli.signal(signal.SIGTERM)
    assert await asyncio.to_thread(cli.popen.wait, 10) == 0, cli.output()
    assert "received 1 message(s), 0 invalid: pub-1" in cli.output()
    assert "Traceback" not in cli.output()


async def test_a_message_counted_as_received_is_still_lost_if_the_subscriber_dies_unread(url, procs):
    # PUBLISH counts the copies Redis queued, not what a subscriber read: the 0-receiver
    # count is a lower bound of the loss, and the publisher's summary must say so.
    sub = procs.python("learn_pubsub.subscriber", "--redis-url", url, "--channel", "orders.created",
                       "--name", "sub-d", ready_line="subscribed to")
    sub.signal(signal.SIGSTOP)  # alive and subscribed, but it reads nothing from now on
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "learn_pubsub.publisher", "--redis-url", url,
                         "--topic", "orders.created", "--count", "2", "--id-prefix", "cli"],
        capture_output=True, text=True, timeout=20)
    sub.kill()  # it dies before reading them
    assert cli.returncode == 0, cli.stderr
    assert "PUBLISH orders.created cli-2 -> 1 receiver(s)" in cli.stdout
    assert ("published 2 message(s): 0 reached no subscriber (0 receivers: lost for sure), "
            "2 copies handed to subscriber connections (not proof of receipt") in cli.stdout
    assert "lost)" not in cli.stdout  # the old label called only the 0-receiver ones lost
    assert "cli-1" not in sub.output() and "cli-2" not in sub.output()  # ...and both are lost


async def test_publisher_cli_publishes_count_messages_and_traces_receivers(url):
    sub = Subscriber(url, channels=["orders.created"], name="sub-p", trace=quiet("sub-p"))
    await sub.start()
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "learn_pubsub.publisher", "--redis-url", url,
                         "--topic", "orders.created", "--count", "3", "--interval", "0.01",
                         "--payload", '{"order": 42}', "--id-prefix", "cli"],
        capture_output=True, text=True, timeout=20)
    assert cli.returncode == 0, cli.stderr
    assert "> pub      PUBLISH orders.created cli-3 -> 1 receiver(s)" in cli.stdout
    await sub.wait_for_count(3)
    assert sub.received_ids == ["cli-1", "cli-2", "cli-3"]
    assert {json.dumps(d.envelope.payload) for d in sub.deliveries} == {'{"order": 42}'}
    await sub.close()
