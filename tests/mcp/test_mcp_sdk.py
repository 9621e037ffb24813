"""Differential tests: the official MCP Python SDK (mcp 2.x) as the client of our hand-written server.

Four pairings: stdio and Streamable HTTP, each with the 2025-11-25 handshake
(``ClientSession.initialize()``) and with the 2026-07-28 stateless style (the
high-level ``mcp.Client``, which probes ``server/discover`` first).  The same
checks run on each: list and call tools, structured results, tool errors,
progress, resources, templates, prompts, logging.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageResult,
    ElicitResult,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    TextContent,
)

from mcp import Client, ClientSession, StdioServerParameters
from wirelab_common.waiting import eventually_async

STDIO = StdioServerParameters(command=sys.executable,
                              args=["-m", "learn_mcp.server", "--transport", "stdio"])
# Logging is deprecated in 2026-07-28 (SEP-2577) but still in both revisions; we test it on purpose.
pytestmark = [pytest.mark.differential,
              pytest.mark.filterwarnings("ignore:The logging capability is deprecated")]


@contextlib.asynccontextmanager
async def connect(transport: str, era: str, url: str, logs: list) -> AsyncIterator[Any]:
    async def on_log(params: Any) -> None:
        logs.append(params)

    if era == "2026-07-28":
        async with Client(STDIO if transport == "stdio" else url, log_level="info",
                          logging_callback=on_log) as client:
            assert client.protocol_version == "2026-07-28"  # discover succeeded: no fallback
            yield client
        return
    streams = stdio_client(STDIO) if transport == "stdio" else streamable_http_client(url)
    async with streams as (read, write), ClientSession(read, write, logging_callback=on_log) as session:
        result = await session.initialize()
        assert result.protocol_version == "2025-11-25"
        assert result.server_info.name == "learn-mcp"
        await session.set_logging_level("info")
        yield session


PAIRINGS = [("stdio", "2025-11-25"), ("stdio", "2026-07-28"), ("http", "2025-11-25"), ("http", "2026-07-28")]


@pytest.fixture(params=PAIRINGS, ids=["-".join(p) for p in PAIRINGS])
def peer(request, mcp_url):
    """Opens the SDK client inside the test's own task (anyio cancel scopes must not change task)."""
    transport, era = request.param

    @contextlib.asynccontextmanager
    async def open_peer() -> AsyncIterator[tuple[Any, list]]:
        logs: list = []
        async with connect(transport, era, mcp_url, logs) as client:
            yield client, logs

    return open_peer


async def test_sdk_lists_tools_with_schemas(peer):
    async with peer() as (client, _):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["delete_note"].annotations.destructive_hint is True
        assert tools["calculate"].output_schema["required"] == ["value"]


async def test_sdk_calls_tools_and_reads_structured_content(peer):
    async with peer() as (client, logs):
        result = await client.call_tool("calculate", {"expression": "2 ** 10 - 24"})
        assert result.structured_content == {"value": 1000} and not result.is_error
        added = await client.call_tool("add_note", {"title": "SDK", "body": "from the official client"})
        note_id = added.structured_content["id"]
        found = await client.call_tool("search_notes", {"query": "official"})
        note = {"id": note_id, "title": "SDK", "body": "from the official client"}
        assert note in found.structured_content["notes"]
        assert any(log.data.get("id") == note_id for log in logs)  # notifications/message at info
        deleted = await client.call_tool("delete_note", {"id": note_id})
        assert deleted.structured_content == {"id": note_id, "deleted": True}


async def test_sdk_sees_tool_errors_as_results(peer):
    async with peer() as (client, _):
        result = await client.call_tool("calculate", {"expression": "1/0"})
        assert result.is_error and "division by zero" in result.content[0].text


async def test_sdk_sees_unknown_tool_as_protocol_error(peer):
    async with peer() as (client, _):
        with pytest.raises(MCPError) as info:
            await client.call_tool("no_such_tool", {})
        assert info.value.error.code == -32602


async def test_sdk_receives_progress(peer):
    async with peer() as (client, _):
        seen: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total))

        result = await client.call_tool("slow_count", {"steps": 3, "delay": 0.01},
                                        progress_callback=on_progress)
        assert result.structured_content == {"counted": 3}
        assert seen == [(1, 3), (2, 3), (3, 3)]


async def test_sdk_reads_resources_and_templates(peer):
    async with peer() as (client, _):
        added = await client.call_tool("add_note", {"title": "Res", "body": "as a resource"})
        note_id = added.structured_content["id"]
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        assert "notes://index" in uris and f"notes://{note_id}" in uris
        index = await client.read_resource("notes://index")
        assert f"[Res](notes://{note_id})" in index.contents[0].text
        templates = await client.list_resource_templates()
        assert templates.resource_templates[0].uri_template == "notes://{id}"
        with pytest.raises(MCPError):
            await client.read_resource("notes://nope")


async def test_sdk_gets_prompts(peer):
    async with peer() as (client, _):
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["summarize_notes"]
        result = await client.get_prompt("summarize_notes", {"style": "short", "query": ""})
        assert result.messages[0].role == "user" and "short" in result.messages[0].content.text


async def test_sdk_completes_prompt_arguments_and_template_variables(peer):
    async with peer() as (client, _):
        added = await client.call_tool("add_note", {"title": "Completion", "body": "autocomplete"})
        note_id = added.structured_content["id"]
        style = await client.complete(PromptReference(type="ref/prompt", name="summarize_notes"),
                                      {"name": "style", "value": "det"})
        assert style.completion.values == ["detailed"] and style.completion.has_more is False
        ids = await client.complete(ResourceTemplateReference(type="ref/resource", uri="notes://{id}"),
                                    {"name": "id", "value": note_id})
        assert note_id in ids.completion.values
        with pytest.raises(MCPError) as info:
            await client.complete(PromptReference(type="ref/prompt", name="no_such_prompt"),
                                  {"name": "style", "value": ""})
        assert info.value.error.code == -32602


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")
async def test_sdk_subscribes_to_resources_and_hears_updates(transport, mcp_url):
    """2025-11-25 only (2026-07-28 removed resources/subscribe): updates on stdout or the GET stream."""
    updated: list[str] = []

    async def on_message(message: Any) -> None:
        message = getattr(message, "root", message)
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(str(message.params.uri))

    streams = stdio_client(STDIO) if transport == "stdio" else streamable_http_client(mcp_url)
    async with streams as (read, write), ClientSession(read, write, message_handler=on_message) as session:
        result = await session.initialize()
        assert result.capabilities.resources.subscribe is True
        added = await session.call_tool("add_note", {"title": "Watched", "body": "by the SDK"})
        note = f"notes://{added.structured_content['id']}"
        await session.subscribe_resource("notes://index")
        await session.subscribe_resource(note)
        await session.call_tool("add_note", {"title": "Another", "body": "changes the index"})
        await eventually_async(lambda: "notes://index" in updated, 10, "an update of notes://index")
        await session.unsubscribe_resource("notes://index")
        updated.clear()
        await session.call_tool("delete_note", {"id": added.structured_content["id"]})
        await eventually_async(lambda: note in updated, 10, f"an update of {note}")
        # The index's update would have come first on the same stream: unsubscribed, it did not.
        assert updated == [note]
        with pytest.raises(MCPError) as info:
            await session.subscribe_resource("notes://nope")
        assert info.value.error.code == -32002


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_sdk_answers_sampling_and_elicitation_the_server_sends(transport, wire):
    """2025-11-25: the server's requests ride stdout or the tools/call POST's SSE stream."""
    asked: list[str] = []

    async def on_sampling(context: Any, params: Any) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="forty-two"),
                                   model="scripted", stop_reason="endTurn")

    answers = iter([ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.org"}),
                    ElicitResult(action="decline")])

    async def on_elicitation(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return next(answers)

    fixtures = StdioServerParameters(command=sys.executable, args=[*STDIO.args, "--conformance-fixtures"])
    with contextlib.ExitStack() as stack:
        if transport == "http":
            proc, url = wire.start_http_server("--conformance-fixtures")
            stack.enter_context(proc)
        streams = stdio_client(fixtures) if transport == "stdio" else streamable_http_client(url)
        async with streams as (read, write), ClientSession(read, write, sampling_callback=on_sampling,
                                                           elicitation_callback=on_elicitation) as session:
            await session.initialize()
            sampled = await session.call_tool("test_sampling", {"prompt": "the answer?"})
            assert sampled.content[0].text == "LLM response: forty-two"
            accepted = await session.call_tool("test_elicitation", {"message": "who are you?"})
            assert '"username": "ada"' in accepted.content[0].text and "accept" in accepted.content[0].text
            declined = await session.call_tool("test_elicitation", {"message": "again?"})
            assert "action: decline" in declined.content[0].text
    assert asked == ["the answer?", "who are you?", "again?"]


async def test_a_client_without_the_capability_is_not_asked():
    fixtures = StdioServerParameters(command=sys.executable, args=[*STDIO.args, "--conformance-fixtures"])
    async with stdio_client(fixtures) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("test_sampling", {"prompt": "x"})
        assert result.is_error and "capabilities.sampling" in result.content[0].text


async def test_sdk_calls_a_tool_whose_schema_is_json_schema_2020_12(peer):
    async with peer() as (client, _):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["add_notes"].input_schema["$defs"]["note"]["prefixItems"][0]["type"] == "string"
        added = await client.call_tool("add_notes", {"notes": [["Tuple", "from the SDK"]]})
        assert not added.is_error and len(added.structured_content["ids"]) == 1
        refused = await client.call_tool("add_notes", {"notes": [["Tuple", "body", "extra"]]})
        assert refused.is_error and "/notes/0/2" in refused.content[0].text
