"""Long-running producers against a real redis-server that restarts or loses a reply.

The publisher (Pub/Sub) and the Streams producer run as real processes while
their private redis-server is killed and started again on the same port; both
must carry on (retrying with backoff) and exit 0.  The stream must then hold
every produced entry exactly once.  A retry can only write twice if the failed
attempt did reach Redis and just its reply was lost: a small TCP proxy between
the producer and Redis makes exactly that happen, on demand.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from learn_pubsub.stream_producer import StreamPublisher
from learn_pubsub.subscriber import Subscriber
from wirelab_common.ports import free_port
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


async def stream_entries(url: str, stream: str = "orders") -> list[tuple[str, str]]:
    """(envelope id, idempotency key) of every entry, in stream order."""
    async with aioredis.from_url(url) as admin:
        entries = await admin.xrange(stream)
    return [(json.loads(fields[b"envelope"])["id"], fields.get(b"key", b"").decode())
            for _, fields in entries]


async def test_publisher_and_producer_carry_on_through_a_redis_restart(procs, tmp_path):
    port = free_port()
    aof = str(tmp_path / "aof")  # the stream must outlive the restart to be counted afterwards
    redis_proc, url = start_redis(port=port, aof_dir=aof)
    sub = Subscriber(url, channels=["orders.created"], name="sub", trace=quiet("sub"),
                     backoff_base=0.05, backoff_max=0.2)
    try:
        await sub.start()
        every = ["--count", "40", "--interval", "0.05"]
        pub = procs.python("learn_pubsub.publisher", "--redis-url", url, "--topic", "orders.created",
                           *every, ready_line=r"PUBLISH orders.created pub-3 ")
        producer = procs.python("learn_pubsub.streams", "produce", "--redis-url", url, "--stream", "orders",
                                *every, ready_line=r"XADD orders .*producer-3\)")
        redis_proc.kill()  # kill -9, mid-run
        # Both fail against the dead server (one publish every 50 ms): the retry path runs.
        await asyncio.to_thread(pub.wait_line, "failed .*; retry in", 5)
        await asyncio.to_thread(producer.wait_line, "failed .*; retry in", 5)
        redis_proc, _ = start_redis(port=port, aof_dir=aof)
        assert await asyncio.to_thread(pub.popen.wait, 30) == 0, pub.output()
        assert await asyncio.to_thread(producer.popen.wait, 30) == 0, producer.output()
        entries = await stream_entries(url)
        await sub.wait_until(lambda s: "pub-40" in s.received_ids, timeout=5)
    finally:
        await sub.close()
        redis_proc.stop()
    # Every entry exactly once, in order; one idempotency key per entry.
    assert [envelope_id for envelope_id, _ in entries] == [f"producer-{n}" for n in range(1, 41)]
    assert len({key for _, key in entries}) == 40
    assert "produced 40 entries" in producer.output()
    assert "published 40 message(s)" in pub.output()
    # Pub/Sub: the subscriber reconnected too; what was published while it was away is lost.
    assert set(sub.received_ids) <= {f"pub-{n}" for n in range(1, 41)} and sub.connects == 2


class LosingProxy:
    """A TCP relay to Redis that, once armed, loses the reply to one command.

    It passes the command on, waits until ``applied()`` says Redis carried it out,
    and closes the client's connection before the reply gets back: the client
    sees a broken connection and cannot know whether its command happened.
    """

    def __init__(self, redis_port: int, command: bytes, applied: Callable[[], Awaitable[bool]]) -> None:
        self.redis_port, self.command, self.applied = redis_port, command, applied
        self.armed = False
        self.lost = 0  # replies lost so far
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.redis_port)
        losing = False

        async def to_redis() -> None:
            nonlocal losing
            while data := await client_r.read(65536):
                if self.armed and self.command in data:
                    self.armed, losing = False, True  # from now on nothing goes back
                    redis_w.write(data)
                    await eventually_async(self.applied, 5, "the XADD applied", interval=0.01)
                    self.lost += 1
                    return
                redis_w.write(data)
                await redis_w.drain()

        async def to_client() -> None:
            while data := await redis_r.read(65536):
                if not losing:
                    client_w.write(data)
                    await client_w.drain()

        back = asyncio.create_task(to_client())
        try:
            await to_redis()
        except (OSError, NotInTime):  # NotInTime: the XADD never applied; the test says so
            pass
        finally:
            back.cancel()
            for writer in (client_w, redis_w):
                writer.close()


async def test_a_retried_xadd_whose_reply_was_lost_is_not_written_twice(private_redis):
    _, url = private_redis
    async with aioredis.from_url(url) as admin:
        length_was = 0

        async def applied() -> bool:
            return await admin.xlen("orders") > length_was

        proxy = LosingProxy(urlsplit(url).port, b"EVALSHA", applied)
        via_proxy = f"redis://127.0.0.1:{await proxy.start()}/0"
        trace = quiet("producer")
        producer = StreamPublisher(via_proxy, trace, backoff_base=0.05, backoff_max=0.05)
        try:
            await producer.publish("orders", {"n": 1}, retry=True)  # also loads the script
            length_was, proxy.armed = 1, True
            await producer.publish("orders", {"n": 2}, retry=True)  # applied, reply lost, retried
            await producer.publish("orders", {"n": 3}, retry=True)
        finally:
            await producer.aclose()
            await proxy.close()
    assert proxy.lost == 1 and len(producer.delays) == 1  # one reply lost, one retry
    assert producer.already_written == 1
    assert [envelope_id for envelope_id, _ in await stream_entries(url)] == [
        "producer-1", "producer-2", "producer-3"]
    assert "XADD orders producer-2: already written as" in trace.stream.getvalue()


async def test_without_the_idempotency_key_the_same_lost_reply_writes_twice(private_redis):
    # The control: a plain XADD, retried the same way, duplicates the entry.  This is what
    # the script prevents, and it shows the proxy loses the reply *after* Redis applied it.
    _, url = private_redis
    async with aioredis.from_url(url) as admin:

        async def applied() -> bool:
            return await admin.xlen("orders") > 0

        proxy = LosingProxy(urlsplit(url).port, b"XADD", applied)
        client = aioredis.from_url(f"redis://127.0.0.1:{await proxy.start()}/0")
        try:
            proxy.armed = True
            try:
                await client.xadd("orders", {"envelope": "same"})
            except RedisConnectionError:
                await client.xadd("orders", {"envelope": "same"})  # the naive retry
            assert proxy.lost == 1
            assert await admin.xlen("orders") == 2
        finally:
            await client.aclose()
            await proxy.close()
