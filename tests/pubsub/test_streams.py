"""Streams and consumer groups against a real redis-server: nothing is lost, some may repeat.

The consumers that get killed are real processes (``python -m learn_pubsub.streams
consume``), SIGKILLed while they hold pending entries; what they processed is read
from their ``--processed-file`` (one line per entry, flushed at once).  The others
run in-process, which is faster.  Every test ends by checking XPENDING is empty:
every entry was acknowledged by someone.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from learn_pubsub.envelope import sequential_ids
from learn_pubsub.stream_producer import StreamPublisher
from learn_pubsub.streams import StreamConsumer
from wirelab_common.ports import free_port
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


@pytest.fixture
def url(private_redis) -> str:
    return private_redis[1]


async def produce(url: str, count: int, prefix: str = "ord", stream: str = "orders") -> list[str]:
    """XADD ``count`` envelopes; return their envelope ids in order."""
    publisher = StreamPublisher(url, quiet("producer"), id_source=sequential_ids(prefix))
    try:
        for n in range(count):
            await publisher.publish(stream, {"n": n})
    finally:
        await publisher.aclose()
    return [envelope_id for _, envelope_id in publisher.entries]


async def pending(url: str, group: str = "billing", stream: str = "orders") -> dict:
    async with aioredis.from_url(url, decode_responses=True) as admin:
        return await admin.xpending(stream, group)


def processed_lines(path: Path) -> list[tuple[str, str, str]]:
    """(envelope id, entry id, consumer) per line of a --processed-file."""
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]


async def wait_lines(path: Path, count: int, timeout: float = 10.0) -> None:
    await eventually_async(lambda: len(processed_lines(path)) >= count, timeout,
                           f"{count} lines in {path.name}", interval=0.02)


def consumer_cli(procs, url: str, consumer: str, path: Path, *extra: str):
    return procs.python("learn_pubsub.streams", "consume", "--redis-url", url, "--stream", "orders",
                        "--group", "billing", "--consumer", consumer, "--processed-file", str(path),
                        *extra, name=consumer, ready_line="consuming")


async def test_an_offline_consumer_group_misses_nothing_and_reads_in_order(url):
    first = StreamConsumer(url, "orders", "billing", "c1", trace=quiet("c1"))
    await first.start()  # creates the group
    await first.close()
    published = await produce(url, 12)  # nobody of billing is running now
    again = StreamConsumer(url, "orders", "billing", "c1", trace=quiet("c1"), batch=5)
    await again.start()
    await again.wait_processed(12)
    await again.close()
    assert again.processed_ids == published
    assert {p.how for p in again.processed} == {"new"}
    assert (await pending(url))["pending"] == 0


async def test_every_group_gets_every_entry(url):
    groups = [StreamConsumer(url, "orders", group, "c1", trace=quiet(group))
              for group in ("billing", "shipping", "analytics")]
    for consumer in groups:
        await consumer.start()
    published = await produce(url, 8)
    for consumer in groups:
        await consumer.wait_processed(8)
        await consumer.close()
        assert consumer.processed_ids == published
    async with aioredis.from_url(url, decode_responses=True) as admin:
        assert sorted(g["name"] for g in await admin.xinfo_groups("orders")) == [
            "analytics", "billing", "shipping"]


async def test_consumers_in_one_group_share_the_entries(url):
    workers = [StreamConsumer(url, "orders", "billing", f"w{n}", trace=quiet(f"w{n}"), batch=1,
                              process_delay=0.01) for n in (1, 2)]
    for worker in workers:
        await worker.start()
    published = await produce(url, 30)
    await eventually_async(lambda: sum(len(w.processed) for w in workers) >= 30, 10,
                           "30 entries processed by the group", interval=0.02)
    for worker in workers:
        await worker.close()
    first, second = (set(w.processed_ids) for w in workers)
    assert first and second, "both consumers should have had a share"
    assert first.isdisjoint(second)  # each entry went to exactly one consumer of the group
    assert first | second == set(published)
    assert (await pending(url))["pending"] == 0


async def test_a_killed_consumers_pending_entries_are_claimed_and_processed(url, procs, tmp_path):
    done = tmp_path / "processed.txt"
    c1 = consumer_cli(procs, url, "c1", done, "--process-delay", "0.3", "--batch", "10")
    published = await produce(url, 10)
    await wait_lines(done, 2)
    c1.kill()  # SIGKILL: no goodbye, its batch stays pending under its name
    held = await pending(url)
    assert held["pending"] > 0 and [c["name"] for c in held["consumers"]] == ["c1"]
    c2 = consumer_cli(procs, url, "c2", done, "--claim-idle-ms", "500", "--count", str(held["pending"]))
    assert await asyncio.to_thread(c2.popen.wait, 10) == 0, c2.output()
    assert f"claimed {held['pending']} entries from a dead consumer (c1: idle > 500 ms)" in c2.output()
    lines = processed_lines(done)
    assert {envelope_id for envelope_id, _, _ in lines} == set(published)  # at least once each
    assert {consumer for _, _, consumer in lines} == {"c1", "c2"}
    assert (await pending(url))["pending"] == 0


async def test_a_consumer_restarted_under_its_name_resumes_its_own_pending_entries(url, procs, tmp_path):
    done = tmp_path / "processed.txt"
    c1 = consumer_cli(procs, url, "c1", done, "--process-delay", "0.3", "--batch", "10")
    published = await produce(url, 6)
    await wait_lines(done, 2)
    c1.kill()
    held = (await pending(url))["pending"]
    assert held > 0
    again = consumer_cli(procs, url, "c1", done, "--count", str(held))  # claiming: default 30 s idle
    assert await asyncio.to_thread(again.popen.wait, 10) == 0, again.output()
    assert again.output().count("(pending)") == held and "from a dead consumer" not in again.output()
    assert {envelope_id for envelope_id, _, _ in processed_lines(done)} == set(published)
    assert (await pending(url))["pending"] == 0


async def test_stream_and_group_survive_a_redis_crash_with_aof_and_nothing_is_lost(procs, tmp_path):
    port = free_port()
    redis_proc, url = start_redis(port=port, aof_dir=str(tmp_path))
    done = tmp_path / "processed.txt"
    try:
        c1 = consumer_cli(procs, url, "c1", done, "--process-delay", "0.2", "--batch", "10")
        published = await produce(url, 10)
        await wait_lines(done, 3)
        redis_proc.kill()  # kill -9 mid-batch: appendfsync always kept every XADD and XACK
        redis_proc, _ = start_redis(port=port, aof_dir=str(tmp_path))
        published += await produce(url, 5, prefix="after")
        await eventually_async(lambda: {e for e, _, _ in processed_lines(done)} == set(published), 12,
                               "every published entry processed")
        async with aioredis.from_url(url, decode_responses=True) as admin:
            assert await admin.xlen("orders") == 15
            async def acknowledged() -> bool:  # the XACK of the last entry may still be on its way
                return not (await admin.xpending("orders", "billing"))["pending"]

            await eventually_async(acknowledged, 5, "no entry pending for billing")
        output = c1.output()
        assert "redis gone" in output and "consuming again orders as billing/c1 (group exists)" in output
    finally:
        redis_proc.stop()


async def test_maxlen_keeps_the_stream_about_that_long(url):
    publisher = StreamPublisher(url, quiet("producer"), maxlen=100)
    for n in range(1000):
        await publisher.publish("orders", {"n": n})
    await publisher.aclose()
    async with aioredis.from_url(url) as admin:
        length = await admin.xlen("orders")
    # "~": Redis trims only whole radix-tree nodes (100 entries each by default).
    assert 100 <= length < 300


async def test_an_invalid_entry_is_acknowledged_and_counted_not_retried_forever(url):
    async with aioredis.from_url(url) as raw:
        await raw.xadd("orders", {"envelope": b"not json"})
        await raw.xadd("orders", {"something": b"else"})
    published = await produce(url, 2)
    consumer = StreamConsumer(url, "orders", "billing", "c1", trace=quiet("c1"))
    await consumer.start()
    await consumer.wait_processed(2)
    await consumer.close()
    assert consumer.invalid == 2 and consumer.processed_ids == published
    assert (await pending(url))["pending"] == 0
