"""Our publisher and subscriber beside redis-cli, the reference client: each reads what the other wrote.

redis-cli publishes envelopes (and garbage) to our subscriber, and subscribes
to what our publisher sends; a throwaway redis-server sits between them.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from learn_pubsub.envelope import Envelope, encode
from learn_pubsub.publisher import Publisher
from learn_pubsub.subscriber import Subscriber
from tests.conftest import need_binary
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


def port_of(url: str) -> int:
    return urlsplit(url).port or 6379


@pytest.fixture
def url(private_redis) -> str:
    return private_redis[1]


@pytest.fixture
def redis_cli() -> str:
    return need_binary("redis-cli", "redis-tools")


async def wait_numsub(url: str, channel: str, expected: int) -> None:
    async with aioredis.from_url(url) as admin:
        async def counted() -> bool:
            return dict(await admin.pubsub_numsub(channel)).get(channel.encode(), 0) == expected

        await eventually_async(counted, 5, f"{expected} subscriber(s) on {channel}", interval=0.02)


async def test_invalid_messages_are_counted_and_the_subscriber_keeps_going(url, redis_cli):
    sub = Subscriber(url, channels=["orders.created"], name="sub-v", trace=quiet("sub-v"))
    await sub.start()
    wrong_topic = encode(Envelope("x-1", "orders.paid", 0, {}))
    async with aioredis.from_url(url) as raw:
        for data in (b"not json", b"\xff\xfe", b"[1, 2]", b'{"id": "a"}', wrong_topic.encode()):
            assert await raw.publish("orders.created", data) == 1
    cli = subprocess.run([redis_cli, "-p", str(port_of(url)), "publish", "orders.created", "oops"],
                         capture_output=True, text=True, timeout=10)
    assert cli.stdout.strip() == "1"
    async with Publisher(url, quiet("pub")) as pub:
        await pub.publish("orders.created", {"ok": True})
    await sub.wait_for_count(7)
    assert sub.received_ids == ["pub-1"]  # the valid one came through after all the bad ones
    reasons = [reason for _, reason in sub.invalid]
    assert len(reasons) == 6
    assert reasons[0].startswith("not JSON") and reasons[1].startswith("not UTF-8")
    assert "does not match channel 'orders.created'" in reasons[4]
    assert "invalid message on orders.created" in sub.trace.stream.getvalue()
    await sub.close()


async def test_redis_cli_publish_reaches_our_subscriber(url, redis_cli):
    sub = Subscriber(url, channels=["orders.created"], name="sub-c", trace=quiet("sub-c"))
    await sub.start()
    data = encode(Envelope("cli-1", "orders.created", 1767225600.0, {"order": 42}))
    cli = subprocess.run([redis_cli, "-p", str(port_of(url)), "publish", "orders.created", data],
                         capture_output=True, text=True, timeout=10)
    assert cli.returncode == 0 and cli.stdout.strip() == "1", cli
    await sub.wait_for_count(1)
    assert sub.deliveries[0].envelope == Envelope("cli-1", "orders.created", 1767225600.0, {"order": 42})
    await sub.close()


async def test_redis_cli_subscribe_receives_what_our_publisher_publishes(url, redis_cli):
    cli = await asyncio.create_subprocess_exec(
        redis_cli, "-p", str(port_of(url)), "subscribe", "orders.created",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await wait_numsub(url, "orders.created", 1)
        async with Publisher(url, quiet("pub")) as pub:
            assert await pub.publish("orders.created", {"order": 42}) == 1
        lines = []
        async with asyncio.timeout(5):
            while '"id":"pub-1"' not in (line := (await cli.stdout.readline()).decode()):
                lines.append(line)
        # redis-cli prints a message as three lines: message, the channel, the data.
        assert lines[-2:] == ["message\n", "orders.created\n"]
        assert json.loads(line)["payload"] == {"order": 42}
    finally:
        cli.kill()
        await cli.wait()
