"""Our from-scratch server (server.py on transport_ws.ServerConnection) against clients nobody here wrote.

The ``gql`` client holds our server to its own expectations of
``graphql-transport-ws``: the ack, ``next``/``complete`` per operation, ``error``
for a refused document, the close codes.  And our server joins a strawberry
server on one Redis: a bid taken by strawberry reaches a subscriber on ours.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from learn_graphql.client import connect
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

GRAPHQL_TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL


@pytest.fixture
def ours(mixed_servers) -> dict[str, str]:
    """Our server (s3) and a strawberry server (s1) on the same private Redis (shared by this module)."""
    return {server_id: mixed_servers.ws(server_id) for server_id in ("s3", "s1")}


def transport(url: str, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(url=url, init_payload={"token": token}, subprotocols=[GRAPHQL_TRANSPORT_WS],
                               connect_timeout=5, ack_timeout=5, close_timeout=2)


async def test_gql_runs_queries_mutations_and_a_subscription_on_our_server(ours):
    async with Client(transport=transport(ours["s3"], "bob-token")) as bob, \
            Client(transport=transport(ours["s1"], "alice-token")) as alice:
        lots = await bob.execute(gql("{ lots { id highestBid } }"))
        assert {"id": "lamp", "highestBid": 10} in lots["lots"]
        stream = bob.subscribe(gql('subscription { bids(lot: "lamp") { amount bidder server } }'))
        first = asyncio.create_task(anext(stream))

        async def subscribed() -> bool:
            stats = await bob.execute(gql("{ stats { activeSubscriptions } }"))
            return stats["stats"]["activeSubscriptions"] == 1
        await eventually_async(subscribed, 5, "our server to run bob's subscription")
        await alice.execute(gql('mutation { placeBid(lot: "lamp", amount: 40) { seq } }'))  # on strawberry
        assert await asyncio.wait_for(first, 5) == {"bids": {"amount": 40, "bidder": "alice", "server": "s1"}}
        await stream.aclose()
        mine = await bob.execute(gql('mutation { placeBid(lot: "lamp", amount: 41) { seq server } }'))
        assert mine == {"placeBid": {"seq": 2, "server": "s3"}}


async def test_gql_gets_a_refused_document_as_an_error(ours):
    async with Client(transport=transport(ours["s3"], "bob-token")) as bob:
        with pytest.raises(TransportQueryError, match="exceeds maximum operation depth of 5"):
            await bob.execute(gql("{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"))
        assert await bob.execute(gql("{ lots { id } }"))


async def test_gql_is_refused_with_4403_by_our_server(ours):
    with pytest.raises(TransportConnectionFailed) as caught:
        async with Client(transport=transport(ours["s3"], "stolen")):
            pass
    closed = caught.value.__cause__
    assert isinstance(closed, ConnectionClosed) and closed.rcvd.code == 4403


@pytest.mark.parametrize(("texts", "init", "code"), [
    ([], False, 4408),
    (['{"id":"1","type":"subscribe","payload":{"query":"{ lots { id } }"}}'], False, 4401),
    (['{"type":"connection_init"}'], True, 4429),
    (["{oops"], True, 4400),
])
async def test_our_server_closes_with_the_protocols_codes(ours, texts, init, code):
    async with connect(ours["s3"], {"token": "alice-token"}, init=init) as client:
        for text in texts:
            await client.send_raw(text)
        ended = await client.closed(5)
    assert ended.code == code


async def test_a_duplicate_id_on_our_server_closes_with_4409(ours):
    subscribe = json.dumps({"id": "a", "type": "subscribe",
                            "payload": {"query": 'subscription { bids(lot: "clock") { amount } }'}})
    async with connect(ours["s3"], {"token": "alice-token"}) as client:
        await client.send_raw(subscribe)
        await client.send_raw(subscribe)
        ended = await client.closed(5)
    assert (ended.code, ended.reason) == (4409, "Subscriber for a already exists")
