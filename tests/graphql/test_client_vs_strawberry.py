"""Our from-scratch client (transport_ws + client) against strawberry's server, two processes, real Redis.

strawberry's graphql-transport-ws handler is a peer nobody here wrote: every
close code our pure layer expects must be the one it really sends.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import redis.asyncio as aioredis

from learn_graphql.client import ConnectionEnded, OperationFailed, connect
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential

BIDS = 'subscription { bids(lot: "lamp") { amount bidder seq server } }'
ALICE, BOB = {"token": "alice-token"}, {"token": "bob-token"}


async def active(auction, server_id: str) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(auction.http(server_id), json={"query": "{ stats { activeSubscriptions } }"})
    return answer.json()["data"]["stats"]["activeSubscriptions"]


async def wait_active(auction, server_id: str, count: int) -> None:
    async def reached() -> bool:
        return await active(auction, server_id) == count
    await eventually_async(reached, 5, f"{server_id} to run {count} subscription(s)")


async def test_a_bid_on_one_server_reaches_subscribers_on_both(auction):
    async with connect(auction.ws("s1"), ALICE, trace=Trace("alice")) as alice, \
            connect(auction.ws("s2"), BOB, trace=Trace("bob")) as bob:
        streams = [alice.subscribe(BIDS), bob.subscribe(BIDS)]
        firsts = [asyncio.create_task(anext(stream)) for stream in streams]
        await wait_active(auction, "s1", 1)
        await wait_active(auction, "s2", 1)
        placed = await alice.execute('mutation { placeBid(lot: "lamp", amount: 50) { seq server } }')
        assert placed == {"placeBid": {"seq": 1, "server": "s1"}}
        got = await asyncio.wait_for(asyncio.gather(*firsts), 5)
        expected = {"data": {"bids": {"amount": 50, "bidder": "alice", "seq": 1, "server": "s1"}}}
        assert got == [expected, expected]
        lots = await bob.execute("{ lot(id: \"lamp\") { highestBid bidder } }")
        assert lots == {"lot": {"highestBid": 50, "bidder": "alice"}}  # the store is shared too
        for stream in streams:
            await stream.aclose()


async def test_a_bid_that_is_not_higher_is_refused_with_a_graphql_error(one_server):
    async with connect(one_server.ws(), BOB) as bob:
        with pytest.raises(OperationFailed, match="bid refused: 5 is not above the highest bid, 10"):
            await bob.execute('mutation { placeBid(lot: "lamp", amount: 5) { seq } }')


async def closed_with(auction, payload, *texts: str, init: bool = True) -> ConnectionEnded:
    async with connect(auction.ws(), payload, init=init) as client:
        for text in texts:
            await client.send_raw(text)
        return await client.closed(5)


@pytest.mark.parametrize("payload", [{"token": "stolen"}, {}])
async def test_a_bad_or_missing_token_is_refused_with_4403(one_server, payload):
    with pytest.raises(ConnectionEnded) as ended:
        async with connect(one_server.ws(), payload):
            pass
    assert (ended.value.code, ended.value.reason) == (4403, "Forbidden")


async def test_no_connection_init_within_the_wait_closes_with_4408(one_server):
    ended = await closed_with(one_server, ALICE, init=False)
    assert (ended.code, ended.reason) == (4408, "Connection initialisation timeout")


async def test_subscribe_before_connection_init_closes_with_4401(one_server):
    subscribe = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BIDS}})
    ended = await closed_with(one_server, ALICE, subscribe, init=False)
    assert (ended.code, ended.reason) == (4401, "Unauthorized")


async def test_a_second_subscribe_with_a_running_id_closes_with_4409(one_server):
    subscribe = json.dumps({"id": "dup", "type": "subscribe", "payload": {"query": BIDS}})
    ended = await closed_with(one_server, ALICE, subscribe, subscribe)
    assert (ended.code, ended.reason) == (4409, "Subscriber for dup already exists")


async def test_a_second_connection_init_closes_with_4429(one_server):
    ended = await closed_with(one_server, ALICE, json.dumps({"type": "connection_init", "payload": ALICE}))
    assert ended.code == 4429


@pytest.mark.parametrize("text", ["{not json", json.dumps({"type": "start", "id": "1"})])
async def test_malformed_json_and_unknown_types_close_with_4400(one_server, text):
    ended = await closed_with(one_server, ALICE, text)
    assert ended.code == 4400


async def test_a_query_deeper_than_the_limit_is_refused_with_a_graphql_error(one_server):
    deep = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"  # depth 6
    async with connect(one_server.ws(), ALICE) as alice:
        with pytest.raises(OperationFailed, match="exceeds maximum operation depth of 5"):
            await alice.execute(deep)
        assert await alice.execute("{ lots { id } }")  # the connection goes on


async def test_a_query_with_too_many_aliases_is_refused_as_too_costly(one_server):
    """Aliases multiply the work of one document without making it deeper: 11 copies of ``lots``."""
    costly = "{ " + " ".join(f"a{n}: lots {{ id }}" for n in range(11)) + " }"
    async with connect(one_server.ws(), ALICE) as alice:
        with pytest.raises(OperationFailed, match="11 aliases found. Allowed: 10"):
            await alice.execute(costly)
        ten = "{ " + " ".join(f"a{n}: lots {{ id }}" for n in range(10)) + " }"
        assert len(await alice.execute(ten)) == 10


async def test_without_the_depth_limit_the_same_query_runs(start_auction):
    auction = start_auction("--no-depth-limit", ids=("s1",))
    deep = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"
    async with connect(auction.ws(), ALICE) as alice:
        assert "lots" in await alice.execute(deep)


async def test_a_client_that_disconnects_leaves_no_subscription_behind(auction):
    redis = aioredis.from_url(auction.redis_url)
    try:
        for _ in range(3):
            async with connect(auction.ws("s1"), ALICE) as alice:
                pending = asyncio.create_task(anext(alice.subscribe(BIDS)))
                await wait_active(auction, "s1", 1)
                await alice.socket.close()  # no complete: the socket just goes away
            pending.cancel()
            await wait_active(auction, "s1", 0)
        # One Redis subscription per server process, however many GraphQL subscriptions come and go.
        assert await redis.pubsub_numsub("auction:bids") == [(b"auction:bids", 2)]
    finally:
        await redis.aclose()


async def test_a_mutation_over_http_needs_a_bearer_token(auction):
    mutation = {"query": 'mutation { placeBid(lot: "clock", amount: 99) { bidder } }'}
    async with httpx.AsyncClient(timeout=5) as http:
        anonymous = (await http.post(auction.http(), json=mutation)).json()
        signed = (await http.post(auction.http(), json=mutation,
                                  headers={"Authorization": "Bearer carol-token"})).json()
    assert "sign in first" in anonymous["errors"][0]["message"]
    assert signed == {"data": {"placeBid": {"bidder": "carol"}}}
