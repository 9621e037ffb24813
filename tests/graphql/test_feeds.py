"""Our server's shared feeds (feeds.py): one generator per document, however many subscribers;
a reader that falls behind is closed (1008) and delays nobody."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from learn_graphql.client import connect
from learn_graphql.transport_ws import SUBPROTOCOL
from wirelab_common.processes import start_server
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback

BIDS = 'subscription { bids(lot: "lamp") { amount bidder } }'


@pytest.fixture
def ours(procs, private_redis) -> tuple[str, str]:
    _, url = private_redis
    proc = start_server([sys.executable, "-m", "learn_graphql.server", "--port", "0", "--redis-url", url,
                         "-q"], name="s3")
    procs.started.append(proc)
    return f"ws://127.0.0.1:{proc.port}/graphql", url


async def generators(url: str) -> int:
    async with connect(url, {"token": "carol-token"}) as carol:
        return (await carol.execute("{ stats { activeSubscriptions } }"))["stats"]["activeSubscriptions"]


async def test_subscribers_on_one_document_share_one_generator_until_the_last_leaves(ours):
    url, _ = ours
    async with connect(url, {"token": "alice-token"}) as alice, connect(url, {"token": "bob-token"}) as bob:
        streams = [alice.subscribe(BIDS), bob.subscribe(BIDS), bob.subscribe(BIDS)]  # bob twice, two ids
        firsts = [asyncio.ensure_future(anext(stream)) for stream in streams]

        async def one_generator() -> bool:
            return await generators(url) == 1
        await eventually_async(one_generator, 5, "the feed to start")
        await alice.execute('mutation { placeBid(lot: "lamp", amount: 11) { seq } }')
        got = await asyncio.wait_for(asyncio.gather(*firsts), 5)
        assert got == [{"data": {"bids": {"amount": 11, "bidder": "alice"}}}] * 3
        assert await generators(url) == 1  # three subscriptions, one execution per event
        await streams[0].aclose()
        await streams[1].aclose()
        assert await generators(url) == 1  # bob's second subscription still runs
        await streams[2].aclose()

        async def none() -> bool:
            return await generators(url) == 0
        await eventually_async(none, 5, "the feed to close with its last member")


@pytest.mark.timeout(120)
async def test_a_reader_that_falls_behind_is_closed_and_the_other_gets_every_event(ours):
    url, redis_url = ours
    async with ws_connect(url, subprotocols=[SUBPROTOCOL], max_queue=1, compression=None) as slow, \
            connect(url, {"token": "alice-token"}) as fast:
        await slow.send(json.dumps({"type": "connection_init", "payload": {"token": "bob-token"}}))
        assert json.loads(await slow.recv())["type"] == "connection_ack"
        await slow.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BIDS}}))
        stream = fast.subscribe(BIDS)
        first = asyncio.ensure_future(anext(stream))
        redis = aioredis.from_url(redis_url)

        def bid(seq: int) -> str:
            event = {"lot": "lamp", "amount": seq, "bidder": "x" * 10_000, "seq": seq, "server": "s9"}
            return json.dumps(event)

        async def warm_up() -> bool:  # until both are members: each has had event 0
            await redis.publish("auction:bids", bid(0))
            return first.done()
        await eventually_async(warm_up, 5, "the fast subscriber to get a first event")
        assert json.loads(await asyncio.wait_for(slow.recv(), 5))["type"] == "next"  # its last read
        amounts: list[int] = []
        try:
            for start in range(1, 2049, 32):  # bursts the fast reader keeps up with; the slow one never reads
                async with redis.pipeline(transaction=False) as pipe:
                    for seq in range(start, start + 32):
                        pipe.publish("auction:bids", bid(seq))
                    await pipe.execute()
                for _ in range(32):
                    amount = (await asyncio.wait_for(anext(stream), 30))["data"]["bids"]["amount"]
                    if amount > 0:  # warm-up events (0) may still be in the way
                        amounts.append(amount)
                while len(amounts) < start + 31:
                    amounts.append((await asyncio.wait_for(anext(stream), 30))["data"]["bids"]["amount"])
        finally:
            await redis.aclose()
        assert amounts == list(range(1, 2049))
        with pytest.raises(ConnectionClosed):  # what it had buffered, then the close frame
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        assert slow.close_code == 1008 and "messages behind" in slow.close_reason
        await stream.aclose()
