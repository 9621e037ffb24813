"""Our server and strawberry's, fed the same messages, answer the same way.

strawberry's ``graphql-transport-ws`` handler is the reference here: every
script below goes to both servers (same schema, same Redis), and what comes
back (message types and ids, then the close code) must be the same.  Where our
pure ``ServerConnection`` decides (close codes, id reuse, ping), a difference
would show that our reading of ``PROTOCOL.md`` is not strawberry's.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from learn_graphql.transport_ws import SUBPROTOCOL

pytestmark = pytest.mark.differential

QUIET = 0.5  # a server that has said all it will say stays silent this long (or closes)


def init(token: str = "alice-token") -> str:
    return json.dumps({"type": "connection_init", "payload": {"token": token}})


def subscribe(op_id: str | None, query: str | None) -> str:
    message: dict = {"type": "subscribe", "payload": {} if query is None else {"query": query}}
    if op_id is not None:
        message["id"] = op_id
    return json.dumps(message)


BIDS = 'subscription { bids(lot: "clock") { amount } }'
LOTS = "{ lots { id } }"
DEEP = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"
SCRIPTS = {
    "nothing at all": [],
    "a stolen token": [init("stolen")],
    "subscribe before init": [subscribe("1", LOTS)],
    "init twice": [init(), init()],
    "not JSON": [init(), "{oops"],
    "an unknown type": [init(), json.dumps({"type": "start", "id": "1"})],
    "a query": [init(), subscribe("1", LOTS)],
    "a too deep query": [init(), subscribe("1", DEEP)],
    "a running id again": [init(), subscribe("a", BIDS), subscribe("a", BIDS)],
    "an id reused after complete": [init(), subscribe("a", BIDS), json.dumps({"type": "complete", "id": "a"}),
                                    subscribe("a", LOTS)],
    "ping": [init(), json.dumps({"type": "ping"})],
    "subscribe without an id": [init(), subscribe(None, LOTS)],
    "subscribe without a query": [init(), subscribe("1", None)],
    "an init payload that is not an object": [json.dumps({"type": "connection_init", "payload": "x"})],
}


async def answers(url: str, texts: list[str]) -> tuple[list[tuple[str, str | None]], int | None]:
    """What the server sent (type, id), sorted, and its close code (None: still open)."""
    got: list[tuple[str, str | None]] = []
    async with ws_connect(url, subprotocols=[SUBPROTOCOL], compression=None) as ws:
        for text in texts:
            await ws.send(text)
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), QUIET if texts else 3))
                got.append((message["type"], message.get("id")))
        except TimeoutError:
            return sorted(got, key=str), None
        except ConnectionClosed:
            return sorted(got, key=str), ws.close_code


@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_both_servers_answer_the_same(mixed_servers, name):
    texts = SCRIPTS[name]
    theirs = await answers(mixed_servers.ws("s1"), texts)
    ours = await answers(mixed_servers.ws("s3"), texts)
    assert ours == theirs, f"{name}: strawberry {theirs}, ours {ours}"
