"""The OpenAI-compatible planner over HTTP, with a scripted endpoint on httpx.MockTransport
playing the model: what it posts, what it reads back, and the agent loop driven by it."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from learn_mcp.host.agent import Agent
from learn_mcp.host.client import ToolInfo, ToolResult
from learn_mcp.host.planner import Finish, OpenAICompatiblePlanner, PlannerError, ToolCall, Turn
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.memory

TOOLS = [
    ToolInfo("calculate", "Evaluate arithmetic.",
             {"type": "object", "properties": {"expression": {"type": "string"}}}, {"readOnlyHint": True}),
]


class Calculator:
    """A stand-in MCP client with one tool, for the agent loop."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self) -> list[ToolInfo]:
        return TOOLS

    async def call_tool(self, name: str, arguments: dict[str, Any], on_progress=None,
                        timeout=None) -> ToolResult:
        self.calls.append((name, arguments))
        return ToolResult(False, {"value": eval(arguments["expression"], {})}, "")  # test input only


async def test_the_planner_posts_tools_and_history_and_reads_tool_calls_from_a_fake_endpoint():
    seen: list[dict] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        body = json.loads(request.content)
        seen.append(body)
        if len(body["messages"]) == 2:  # first turn: call a tool
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "calculate", "arguments": json.dumps({"expression": "2*(3+4)"})}}]}
        else:  # the tool result came back: answer
            result = json.loads(body["messages"][-1]["content"])["value"]["value"]
            message = {"role": "assistant", "content": f"It is {result}."}
        return httpx.Response(200, json={"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": message, "finish_reason": "stop"}]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    planner = OpenAICompatiblePlanner("http://model.invalid", http=http)
    first = await planner.decide("compute 2*(3+4)", TOOLS, [])
    assert first == ToolCall("calculate", {"expression": "2*(3+4)"}, "call_1")
    assert {t["function"]["name"] for t in seen[0]["tools"]} == {t.name for t in TOOLS}
    final = await planner.decide("compute 2*(3+4)", TOOLS, [Turn(first, "ok", {"value": 14})])
    assert final == Finish("It is 14.")
    assert seen[1]["messages"][2]["tool_calls"][0]["id"] == "call_1"
    await planner.close()


async def test_an_endpoint_error_is_a_planner_error():
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(400, json={"error": {}})))
    with pytest.raises(PlannerError, match="400"):
        await OpenAICompatiblePlanner("http://model.invalid/v1", http=http).decide("x", TOOLS, [])


async def test_the_loop_runs_with_an_openai_compatible_planner_too():
    """A scripted endpoint plays the model: it calls calculate, reads the tool message, answers."""

    def model(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        if messages[-1]["role"] == "user":
            reply = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_7", "type": "function",
                     "function": {"name": "calculate", "arguments": '{"expression": "6*7"}'}}]}
        else:
            seen = json.loads(messages[-1]["content"])["value"]["value"]
            reply = {"role": "assistant", "content": f"The answer is {seen}."}
        choice = {"index": 0, "message": reply, "finish_reason": "stop"}
        return httpx.Response(200, json={"choices": [choice]})

    client = Calculator()
    http = httpx.AsyncClient(transport=httpx.MockTransport(model))
    planner = OpenAICompatiblePlanner("http://model.invalid", http=http)
    run = Agent(client, planner, trace=Trace("agent", stream=io.StringIO()))  # type: ignore[arg-type]
    result = await run.run("what is six times seven?")
    await planner.close()
    assert client.calls == [("calculate", {"expression": "6*7"})]
    assert result.stopped_by == "finished" and result.answer == "The answer is 42."


async def test_the_planner_writes_the_text_a_server_samples_for():
    seen: list[dict] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        message = {"role": "assistant", "content": "MCP is a plug."}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx.Response(200, json={"choices": [choice]})

    planner = OpenAICompatiblePlanner("http://model.invalid", http=httpx.AsyncClient(
        transport=httpx.MockTransport(endpoint)))
    image = {"type": "image", "data": "", "mimeType": "image/png"}
    text = await planner.generate([{"role": "user", "content": {"type": "text", "text": "what is MCP?"}},
                                   {"role": "user", "content": image}], 50)
    assert text == "MCP is a plug."
    assert seen[0]["messages"] == [{"role": "user", "content": "what is MCP?"}]  # text only
    assert seen[0]["max_tokens"] == 50
    await planner.close()
