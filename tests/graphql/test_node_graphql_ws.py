"""The reference client, npm ``graphql-ws`` on Node, against strawberry's server and against ours.

``graphql-ws`` is the library whose ``PROTOCOL.md`` defines ``graphql-transport-ws``:
if its client is content with a server, the server speaks the protocol as its authors meant.
The client script is ``peers/graphql_ws_client.cjs``; the npm packages come from
``make npm-peers`` (into ``.cache/npm``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path

import pytest

from learn_graphql.client import connect
from tests.conftest import need_binary, unavailable
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / ".cache" / "npm" / "node_modules"
SCRIPT = Path(__file__).resolve().parent / "peers" / "graphql_ws_client.cjs"
BIDS = 'subscription { bids(lot: "lamp") { amount bidder server } }'
AMOUNTS = itertools.count(60)  # the servers live for the module: each bid tops the last


@pytest.fixture
def node() -> str:
    path = need_binary("node", "nodejs")
    if not (MODULES / "graphql-ws").is_dir() or not (MODULES / "ws").is_dir():
        unavailable("npm packages graphql-ws and ws are not in .cache/npm (run: make npm-peers)")
    return path


@pytest.fixture
def servers(mixed_servers) -> dict[str, str]:
    """A strawberry server (s1) and our own (s3) on one private Redis (shared by this module)."""
    return {server_id: mixed_servers.ws(server_id) for server_id in ("s1", "s3")}


async def run_node(node: str, url: str, token: str, query: str, count: int = 1) -> asyncio.subprocess.Process:
    env = {**os.environ, "NODE_PATH": str(MODULES)}
    return await asyncio.create_subprocess_exec(node, str(SCRIPT), url, token, str(count), query, env=env,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)


async def output_of(proc: asyncio.subprocess.Process) -> list[str]:
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out.decode().splitlines()


async def active(url: str) -> int:
    async with connect(url, {"token": "carol-token"}) as carol:
        stats = await carol.execute("{ stats { activeSubscriptions } }")
    return stats["stats"]["activeSubscriptions"]


@pytest.mark.parametrize(("listen_on", "bid_on"), [("s1", "s3"), ("s3", "s1")])
async def test_the_graphql_ws_client_sees_a_bid_made_on_the_other_server(node, servers, listen_on, bid_on):
    proc = await run_node(node, servers[listen_on], "bob-token", BIDS)

    async def subscribed() -> bool:
        return await active(servers[listen_on]) == 1
    await eventually_async(subscribed, 10, f"{listen_on} to run the Node client's subscription")
    amount = next(AMOUNTS)
    async with connect(servers[bid_on], {"token": "alice-token"}) as alice:
        await alice.execute(f'mutation {{ placeBid(lot: "lamp", amount: {amount}) {{ seq }} }}')
    lines = await output_of(proc)
    expected = {"data": {"bids": {"amount": amount, "bidder": "alice", "server": bid_on}}}
    assert lines[:2] == [f"next {json.dumps(expected, separators=(',', ':'))}", "complete"], lines


@pytest.mark.parametrize("server_id", ["s1", "s3"])
async def test_the_graphql_ws_client_sees_4403_for_a_stolen_token(node, servers, server_id):
    lines = await output_of(await run_node(node, servers[server_id], "stolen", "{ lots { id } }"))
    assert "closed 4403 Forbidden" in lines, lines


@pytest.mark.parametrize("server_id", ["s1", "s3"])
async def test_the_graphql_ws_client_gets_a_too_deep_query_as_an_error(node, servers, server_id):
    deep = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"
    lines = await output_of(await run_node(node, servers[server_id], "bob-token", deep))
    assert lines and lines[0].startswith("error "), lines
    assert "exceeds maximum operation depth of 5" in lines[0]
