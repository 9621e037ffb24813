"""2026-07-28's way of asking and watching, against the official Python SDK (mcp 2.3) both ways.

- **input_required** (multi round-trip requests): a tool that needs the user or the host's
  model answers ``resultType: "input_required"`` with ``inputRequests``; the client answers
  them and retries with ``inputResponses`` and the echoed ``requestState``.
- **subscriptions/listen**: the response stream of one long request carries the
  notifications the client asked for.

The SDK's ``Client`` against our server, and our ``McpClient`` against the SDK's
``MCPServer`` (sdk_server.py: ``ask_for_note`` returns ``InputRequiredResult``,
``delete_note`` publishes to listen streams), each over stdio and Streamable HTTP.
(Neither the conformance suite 0.1.13 nor the Inspector 0.15.0, whose TypeScript SDK
stops at 2025-11-25, speaks this revision.)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import CreateMessageResult, ElicitResult, ErrorData, TextContent

from learn_mcp.host.asking import Answerer, RefusedInput
from learn_mcp.host.client import McpClient
from mcp import Client, StdioServerParameters
from wirelab_common.processes import start_server
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

OURS = StdioServerParameters(command=sys.executable, args=["-m", "learn_mcp.server", "--transport", "stdio"])
SDK_SERVER = [sys.executable, "-m", "learn_mcp.sdk_server"]


@contextlib.asynccontextmanager
async def sdk_client(transport: str, wire: Any, **callbacks: Any) -> AsyncIterator[Client]:
    with contextlib.ExitStack() as stack:
        target: Any = OURS
        if transport == "http":
            proc, target = wire.start_http_server()
            stack.enter_context(proc)
        async with Client(target, **callbacks) as client:
            assert client.protocol_version == "2026-07-28"
            yield client


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_sdk_client_answers_our_input_required_and_retries(transport, wire):
    asked: list[str] = []

    async def on_elicitation(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"title": "Bread"})  # body: the schema's default

    async def on_sampling(context: Any, params: Any) -> CreateMessageResult | ErrorData:
        asked.append(params.messages[0].content.text)
        if len(asked) > 2:
            return ErrorData(code=-1, message="User rejected sampling request")
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="bread, to buy"),
                                   model="scripted", stop_reason="endTurn")

    async with sdk_client(transport, wire, elicitation_callback=on_elicitation,
                          sampling_callback=on_sampling) as client:
        added = await client.call_tool("ask_for_note", {"why": "for the shopping list"})
        assert added.structured_content["action"] == "accept"
        summary = await client.call_tool("summarize", {"query": "Bread"})
        assert summary.structured_content == {"summary": "bread, to buy", "model": "scripted"}
        with pytest.raises(MCPError):  # refused: the SDK does not retry, so the call never completes
            await client.call_tool("summarize", {"query": "Bread"})
    assert asked[0] == "A new note, for the shopping list: what should it say?"
    assert "- Bread: " in asked[1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_sdk_client_listens_to_our_server(transport, wire):
    async with sdk_client(transport, wire) as client:
        ids = (await client.call_tool("add_notes", {"notes": [["Milk", "buy"], ["Eggs", "buy"]]})
               ).structured_content["ids"]
        async with client.listen(resource_subscriptions=[f"notes://{ids[1]}"]) as sub:
            assert sub.honored.resource_subscriptions == [f"notes://{ids[1]}"]
            for note_id in ids:
                await client.call_tool("delete_note", {"id": note_id})
            async for event in sub:  # the first event it passes is the watched one: nothing else matches
                assert event == ResourceUpdated(uri=f"notes://{ids[1]}")
                break


@contextlib.asynccontextmanager
async def our_host_on_sdk_server(transport: str, answerer: Answerer,
                                 peer_checks: Any) -> AsyncIterator[McpClient]:
    if transport == "stdio":
        client = await McpClient.stdio([*SDK_SERVER, "--transport", "stdio"], peer_checks.quiet(),
                                       answerer=answerer, probe_timeout=30)
        try:
            yield client
        finally:
            await client.close()
        return
    with start_server([*SDK_SERVER, "--transport", "http", "--port", "0"], name="sdk") as server:
        client = await McpClient.http(f"{server.url}/mcp", peer_checks.quiet(), answerer=answerer)
        try:
            yield client
        finally:
            await client.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_our_host_answers_the_sdk_servers_input_required_and_listens(transport, peer_checks):
    answerer = Answerer(None, lambda text: False,  # type: ignore[arg-type]
                        [("accept", {"title": "Bread"}), ("decline", None)])
    async with our_host_on_sdk_server(transport, answerer, peer_checks) as client:
        assert client.session.version == "2026-07-28"
        accepted = await client.call_tool("ask_for_note", {"why": "for the shopping list"})
        assert accepted.value["action"] == "accept"
        declined = await client.call_tool("ask_for_note", {"why": "again"})
        assert declined.value == {"action": "decline"}
        heard: list[str] = []
        await client.subscribe(f"notes://{accepted.value['id']}", heard.append)
        await client.call_tool("delete_note", {"id": accepted.value["id"]})
        await eventually_async(lambda: heard, 10, "the SDK server's resources/updated on our listen stream")
        assert heard == [f"notes://{accepted.value['id']}"]


async def test_our_host_does_not_retry_what_the_user_refused(wire, peer_checks):
    proc, url = wire.start_http_server()
    with proc:
        answerer = Answerer(None, lambda text: False)  # type: ignore[arg-type]  (the user says no)
        client = await McpClient.http(url, peer_checks.quiet(), answerer=answerer)
        try:
            await client.call_tool("add_note", {"title": "Milk", "body": "buy"})
            with pytest.raises(RefusedInput, match="sampling/createMessage refused"):
                await client.call_tool("summarize", {"query": "Milk"})
        finally:
            await client.close()
