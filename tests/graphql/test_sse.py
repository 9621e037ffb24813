"""GraphQL over Server-Sent Events ("distinct connections" mode), beside the WebSocket transports.

One POST per operation with ``Accept: text/event-stream``; the answer is an
event stream of ``event: next`` messages and one ``event: complete``.  The
clients are peers nobody here wrote: ``httpx-sse`` and ``curl``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

import httpx
import pytest
from httpx_sse import aconnect_sse

from learn_graphql.client import connect
from tests.conftest import need_binary
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

BIDS = 'subscription { bids(lot: "clock") { amount bidder server } }'
SSE = {"Accept": "text/event-stream"}


async def active(url: str) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(url, json={"query": "{ stats { activeSubscriptions } }"})
    return answer.json()["data"]["stats"]["activeSubscriptions"]


async def test_an_sse_subscriber_on_one_server_sees_a_bid_made_over_websocket_on_the_other(auction):
    events: list[tuple[str, str]] = []

    async def listen() -> None:
        async with httpx.AsyncClient(timeout=10) as http, \
                aconnect_sse(http, "POST", auction.http("s2"), json={"query": BIDS},
                             headers={**SSE, "Authorization": "Bearer bob-token"}) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                events.append((event.event, event.data))
                return  # one bid is enough: leaving closes the HTTP connection

    listener = asyncio.create_task(listen())

    async def subscribed() -> bool:
        return await active(auction.http("s2")) == 1
    await eventually_async(subscribed, 5, "s2 to run the SSE subscription")
    async with connect(auction.ws("s1"), {"token": "alice-token"}) as alice:
        await alice.execute('mutation { placeBid(lot: "clock", amount: 70) { seq } }')
    await asyncio.wait_for(listener, 5)
    assert events[0][0] == "next"
    assert json.loads(events[0][1]) == {"data": {"bids": {"amount": 70, "bidder": "alice", "server": "s1"}}}

    async def released() -> bool:
        return await active(auction.http("s2")) == 0
    await eventually_async(released, 5, "s2 to end the subscription once the SSE client left")


def test_curl_gets_a_query_as_one_next_event_and_a_complete(one_server):
    curl = need_binary("curl", "curl")
    result = subprocess.run([curl, "-sS", "-N", "-m", "10", "-H", "accept: text/event-stream",
                             "-H", "content-type: application/json", "--data", '{"query": "{ lots { id } }"}',
                             one_server.http()], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.replace("\r\n", "\n") == (
        'event: next\ndata: {"data":{"lots":[{"id":"lamp"},{"id":"clock"}]}}\n\n'
        "event: complete\ndata: \n\n")


async def test_a_too_deep_query_over_sse_is_refused_too(one_server):
    deep = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(one_server.http(), json={"query": deep}, headers=SSE)
    assert "exceeds maximum operation depth of 5" in answer.text
