"""The ``gql`` Python client (a peer nobody here wrote) against our auction servers, on both subprotocols.

``graphql-transport-ws`` is the current protocol; ``graphql-ws`` is the legacy
one of subscriptions-transport-ws (``start``/``data``/``stop`` instead of
``subscribe``/``next``/``complete``).  strawberry negotiates either on the same
path; gql offers one at a time here so that each is surely the one spoken.
"""

from __future__ import annotations

import asyncio

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

BIDS = gql('subscription { bids(lot: "clock") { amount bidder seq server } }')
STATS = gql("{ stats { activeSubscriptions } }")
PROTOCOLS = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]


def transport(url: str, token: str, subprotocol: str) -> WebsocketsTransport:
    return WebsocketsTransport(url=url, init_payload={"token": token}, subprotocols=[subprotocol],
                               connect_timeout=5, ack_timeout=5, close_timeout=2)


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_gql_subscribes_on_one_server_and_sees_a_bid_made_on_the_other(auction, subprotocol):
    """bob subscribes over WebSocket on s2; alice bids over HTTP on s1 (gql's HTTPX transport)."""
    alice_http = HTTPXAsyncTransport(url=auction.http("s1"), headers={"Authorization": "Bearer alice-token"})
    async with Client(transport=transport(auction.ws("s2"), "bob-token", subprotocol)) as bob, \
            Client(transport=alice_http) as alice, \
            Client(transport=HTTPXAsyncTransport(url=auction.http("s2"))) as s2:
        assert bob.transport.subprotocol == subprotocol  # what the server answered in Sec-WebSocket-Protocol
        stream = bob.subscribe(BIDS)
        first = asyncio.create_task(anext(stream))

        async def subscribed() -> bool:
            return (await s2.execute(STATS))["stats"]["activeSubscriptions"] == 1
        await eventually_async(subscribed, 5, "s2 to run bob's subscription")
        placed = await alice.execute(gql('mutation { placeBid(lot: "clock", amount: 30) { seq server } }'))
        assert placed == {"placeBid": {"seq": 1, "server": "s1"}}
        event = await asyncio.wait_for(first, 5)
        assert event == {"bids": {"amount": 30, "bidder": "alice", "seq": 1, "server": "s1"}}
        await stream.aclose()


async def test_gql_sees_the_depth_limit_as_a_query_error(one_server):
    deep = gql("{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }")
    async with Client(transport=transport(one_server.ws(), "alice-token", PROTOCOLS[0])) as alice:
        with pytest.raises(TransportQueryError, match="exceeds maximum operation depth"):
            await alice.execute(deep)


async def test_legacy_graphql_ws_carries_subscriptions_only(one_server):
    """strawberry's legacy handler refuses queries and mutations ("start" with a query); the current
    protocol runs every operation type over the socket (the test above ran a query)."""
    async with Client(transport=transport(one_server.ws(), "alice-token", PROTOCOLS[1])) as alice:
        with pytest.raises(TransportQueryError, match="queries are not allowed"):
            await alice.execute(STATS)


async def test_gql_is_refused_with_4403_for_a_bad_token(one_server):
    client = Client(transport=transport(one_server.ws(), "stolen", PROTOCOLS[0]))
    with pytest.raises(TransportConnectionFailed) as caught:
        async with client:
            pass
    closed = caught.value.__cause__  # the websockets library's ConnectionClosedError, with the close frame
    assert isinstance(closed, ConnectionClosed), repr(caught.value)
    assert (closed.rcvd.code, closed.rcvd.reason) == (4403, "Forbidden")
