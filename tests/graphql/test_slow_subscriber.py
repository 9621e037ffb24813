"""A subscriber that stops reading is cut off; the one beside it still gets every event.

The slow one is a bare ``websockets`` client that subscribes and then never
reads: once its TCP buffers are full, uvicorn's ``send()`` waits for it, its
``bids`` generator stops taking events, its hub queue fills (``--queue-size 64``)
and the hub cuts it off.  ``publish()`` never waited, so the fast subscriber,
on the same server and the same lot, is not held up.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect as ws_connect

from learn_graphql.client import connect
from learn_graphql.transport_ws import SUBPROTOCOL
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

BIDS = 'subscription { bids(lot: "lamp") { amount bidder } }'
EVENTS = 2048  # 64 bursts of BATCH
BATCH = 32
BIG = "x" * 10_000  # 10 kB per event: about 20 MB in all, more than the kernel buffers a reader can hide


async def stats(url: str) -> dict[str, int]:
    async with connect(url, {"token": "carol-token"}) as carol:
        return (await carol.execute("{ stats { activeSubscriptions droppedSubscribers } }"))["stats"]


@pytest.mark.timeout(120)
async def test_a_subscriber_that_stops_reading_is_cut_off_and_the_other_gets_every_event(start_auction):
    auction = start_auction("--queue-size", "64", ids=("s1",))
    url = auction.ws("s1")
    async with ws_connect(url, subprotocols=[SUBPROTOCOL], max_queue=1, compression=None) as slow, \
            connect(url, {"token": "alice-token"}) as fast:
        await slow.send(json.dumps({"type": "connection_init", "payload": {"token": "bob-token"}}))
        assert json.loads(await slow.recv())["type"] == "connection_ack"
        await slow.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BIDS}}))
        # From here on, the slow client reads nothing.
        stream = fast.subscribe(BIDS)
        first = asyncio.ensure_future(anext(stream))

        async def both_subscribed() -> bool:
            return (await stats(url))["activeSubscriptions"] == 2
        await eventually_async(both_subscribed, 10, "both subscriptions to run")

        # Bursts of BATCH events: the fast subscriber reads each burst before the next comes, so its
        # queue (64) never holds more than one; the slow one's only grows once its buffers are full.
        redis = aioredis.from_url(auction.redis_url)
        amounts: list[int] = []
        try:
            for start in range(1, EVENTS + 1, BATCH):
                async with redis.pipeline(transaction=False) as pipe:
                    for seq in range(start, start + BATCH):
                        event = {"lot": "lamp", "amount": seq, "bidder": BIG, "seq": seq, "server": "s9"}
                        pipe.publish("auction:bids", json.dumps(event))
                    await pipe.execute()
                for _ in range(BATCH):
                    source = first if not amounts else anext(stream)
                    amounts.append((await asyncio.wait_for(source, 30))["data"]["bids"]["amount"])
        finally:
            await redis.aclose()
        assert amounts == list(range(1, EVENTS + 1))  # every event, in order, none skipped
        await stream.aclose()
        after = await stats(url)
        assert after["droppedSubscribers"] == 1, after
