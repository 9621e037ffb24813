"""Our host answers our server's sampling and elicitation requests, over stdio and Streamable HTTP."""

from __future__ import annotations

import sys

import pytest

from learn_mcp.host.asking import Answerer
from learn_mcp.host.client import McpClient
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback

STDIO = [sys.executable, "-m", "learn_mcp.server", "--transport", "stdio", "--conformance-fixtures"]


@pytest.fixture(params=["stdio", "http"])
def connect(request, wire, peer_checks):
    """Opens our client (2025-11-25: the server asks only legacy clients) with a given answerer."""
    if request.param == "http":
        proc, url = wire.start_http_server("--conformance-fixtures")
        request.addfinalizer(proc.stop)
        return lambda answerer: McpClient.http(url, peer_checks.quiet(), versions=(wire.LEGACY,),
                                               answerer=answerer)
    return lambda answerer: McpClient.stdio(STDIO, peer_checks.quiet(), versions=(wire.LEGACY,),
                                            answerer=answerer)


async def test_our_host_answers_sampling_after_asking_the_user(connect):
    asked: list[str] = []

    async def generate(messages, max_tokens):
        return f"model says: {messages[0]['content']['text']}"

    answers = iter([True, False])
    client = await connect(Answerer(generate, confirm=lambda text: asked.append(text) or next(answers)))
    try:
        allowed = await client.call_tool("test_sampling", {"prompt": "what is MCP?"})
        assert allowed.text == "LLM response: model says: what is MCP?"
        refused = await client.call_tool("test_sampling", {"prompt": "spend my tokens"})
        assert refused.is_error and "User rejected" in refused.text
        assert len(asked) == 2 and "spend my tokens" in asked[1]
    finally:
        await client.close()


async def test_our_host_answers_elicitation_from_its_script(connect):
    answerer = Answerer(generate=None, confirm=lambda text: False, script=[  # type: ignore[arg-type]
        ("accept", {"username": "ada", "email": "ada@example.org"}), ("decline", None), ("cancel", None),
        ("accept", {"name": "Jane"})])
    client = await connect(answerer)
    try:
        texts = [(await client.call_tool("test_elicitation", {"message": m})).text for m in ("a", "b", "c")]
        assert 'action: accept, content: {"username": "ada", "email": "ada@example.org"}' in texts[0]
        assert "action: decline" in texts[1] and "action: cancel" in texts[2]
        defaults = (await client.call_tool("test_elicitation_sep1034_defaults", {})).text
        assert '"name": "Jane", "age": 30' in defaults  # SEP-1034 defaults filled in by the host
    finally:
        await client.close()


async def test_a_host_without_an_answerer_is_not_asked(connect):
    client = await connect(None)
    try:
        result = await client.call_tool("test_elicitation", {"message": "hello?"})
        assert result.is_error and "capabilities.elicitation" in result.text
    finally:
        await client.close()


async def kept_as_note(client: McpClient, text: str) -> None:
    async def found() -> bool:
        return bool((await client.call_tool("search_notes", {"query": text})).value["notes"])

    await eventually_async(found, 15, f"a note saying {text!r}")


async def test_our_host_answers_a_question_asked_after_the_call_returned(connect):
    """remind asks in the background: over HTTP on the GET stream that listen() opened."""
    answerer = Answerer(generate=None, confirm=lambda text: False,  # type: ignore[arg-type]
                        script=[("accept", {})])  # the form's default: keep = true
    client = await connect(answerer)
    try:
        await client.listen()
        scheduled = await client.call_tool("remind", {"about": "water the plants", "after": 0.2})
        assert scheduled.value == {"scheduled": True}
        await kept_as_note(client, "water the plants")
    finally:
        await client.close()


async def test_our_host_resumes_its_get_stream_with_last_event_id(wire, peer_checks):
    """--sse-poll-ms: every GET ends once caught up; the question arrives on a resumed one."""
    proc, url = wire.start_http_server("-v", "--sse-poll-ms", "100")
    with proc:
        answerer = Answerer(None, lambda text: False, [("accept", {"keep": True})])  # type: ignore[arg-type]
        client = await McpClient.http(url, peer_checks.quiet(), versions=(wire.LEGACY,), answerer=answerer)
        try:
            await client.listen()
            await client.call_tool("remind", {"about": "call the plumber", "after": 0.3})
            await kept_as_note(client, "call the plumber")
            assert client.transport.last_event_id  # type: ignore[attr-defined]
        finally:
            await client.close()
        log = proc.output()
    assert "SSE GET #s1 elicitation/create" in log and "resuming stream" in log, log[-3000:]
