"""Our hand-written client against real servers: the hand-rolled one (learn_mcp.server) and the
official SDK's MCPServer (learn_mcp.sdk_server), over stdio and Streamable HTTP, in both revisions."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator

import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import LEGACY, MODERN, RemoteError
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

SERVERS = {"handrolled": "learn_mcp.server", "sdk": "learn_mcp.sdk_server"}
ERAS = {"modern": (MODERN, LEGACY), "legacy": (LEGACY,)}
TOKEN = "peer-test-token"
TOOL_NAMES = {"calculate", "add_note", "search_notes", "delete_note", "slow_count"}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def http_server(request) -> Iterator[tuple[str, str, str | None]]:
    """(server name, endpoint URL, token): one HTTP server per server kind for the module."""
    module = SERVERS[request.param]
    token = TOKEN if request.param == "handrolled" else None
    argv = [sys.executable, "-m", module, "--transport", "http", "--port", "0"]
    with start_server(argv + (["--token", token] if token else []), name=request.param) as server:
        yield request.param, f"{server.url}/mcp", token


def quiet() -> Trace:
    return Trace("host", stream=io.StringIO())


async def exercise(client: McpClient, version: str) -> None:
    """What every peer must do with our client; asserts as it goes."""
    assert client.session.version == version
    tools = {t.name: t for t in await client.list_tools()}
    assert TOOL_NAMES <= set(tools)
    assert {name for name, t in tools.items() if t.destructive} == {"delete_note"}

    assert (await client.call_tool("calculate", {"expression": "2*(3+4)"})).value == {"value": 14}
    failed = await client.call_tool("calculate", {"expression": "1+"})
    assert failed.is_error and "1+" in failed.text

    added = (await client.call_tool("add_note", {"title": "Peer", "body": "written by the peer test"})).value
    found = (await client.call_tool("search_notes", {"query": "peer test"})).value
    assert added["id"] in [n["id"] for n in found["notes"]]
    deleted = await client.call_tool("delete_note", {"id": added["id"]})
    assert deleted.value == {"id": added["id"], "deleted": True}

    progress: list[tuple[float, float | None]] = []
    counted = await client.call_tool("slow_count", {"steps": 3, "delay": 0.01},
                                     on_progress=lambda p, t, m: progress.append((p, t)))
    assert counted.value == {"counted": 3}
    assert progress == [(1, 3), (2, 3), (3, 3)]

    # Cancel a long call after its first progress notification; the server must go on serving.
    started = asyncio.Event()
    call = asyncio.create_task(client.call_tool("slow_count", {"steps": 100, "delay": 0.05},
                                                on_progress=lambda p, t, m: started.set()))
    await asyncio.wait_for(started.wait(), 10)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert (await client.call_tool("calculate", {"expression": "6*7"})).value == {"value": 42}


@pytest.mark.parametrize("era", sorted(ERAS))
@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_our_client_over_stdio(server, era):
    argv = [sys.executable, "-m", SERVERS[server], "--transport", "stdio"]
    client = await McpClient.stdio(argv, quiet(), versions=ERAS[era], probe_timeout=30)
    try:
        await exercise(client, ERAS[era][0])
    finally:
        await client.close()
    assert client.transport.process.returncode == 0  # type: ignore[attr-defined]  # exits on stdin EOF


@pytest.mark.parametrize("era", sorted(ERAS))
async def test_our_client_over_streamable_http(http_server, era):
    _name, url, token = http_server
    client = await McpClient.http(url, quiet(), versions=ERAS[era], token=token)
    try:
        if era == "legacy":
            assert client.transport.session_id  # type: ignore[attr-defined]
        await exercise(client, ERAS[era][0])
    finally:
        await client.close()


async def test_a_default_host_probes_and_stays_modern_over_http(http_server):
    _name, url, token = http_server
    out = io.StringIO()
    client = await McpClient.http(url, Trace("host", stream=out), token=token)
    try:
        assert client.session.version == MODERN
        assert "initialize" not in out.getvalue() and "server/discover" in out.getvalue()
    finally:
        await client.close()


async def test_the_wrong_bearer_token_fails_to_connect():
    argv = [sys.executable, "-m", "learn_mcp.server", "--transport", "http", "--port", "0", "--token", TOKEN]
    with start_server(argv, name="mcp-http") as server, pytest.raises(RemoteError, match="401|Unauthorized"):
        await McpClient.http(f"{server.url}/mcp", quiet(), token="wrong")
