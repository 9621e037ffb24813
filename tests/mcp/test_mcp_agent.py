"""The agent loop against an in-memory stand-in for the MCP client: no process, no socket."""

from __future__ import annotations

import io
from typing import Any

import pytest

from learn_mcp.host.agent import Agent
from learn_mcp.host.client import ToolInfo, ToolResult
from learn_mcp.host.client_session import RemoteError
from learn_mcp.host.guards import Guardrails, StepLimit
from learn_mcp.host.planner import Finish, RuleBasedPlanner, ToolCall
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.pure

DESTRUCTIVE = {"readOnlyHint": False, "destructiveHint": True}
ADDITIVE = {"readOnlyHint": False, "destructiveHint": False}
READ_ONLY = {"readOnlyHint": True}


class FakeClient:
    """A notes server in a dict, with the two methods the agent uses."""

    def __init__(self) -> None:
        self.notes: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self) -> list[ToolInfo]:
        return [ToolInfo("add_note", "", {}, ADDITIVE), ToolInfo("delete_note", "", {}, DESTRUCTIVE),
                ToolInfo("search_notes", "", {}, READ_ONLY), ToolInfo("calculate", "", {}, READ_ONLY),
                ToolInfo("slow_count", "", {}, READ_ONLY)]

    async def call_tool(self, name: str, arguments: dict[str, Any], on_progress=None,
                        timeout=None) -> ToolResult:
        self.calls.append((name, arguments))
        if name == "add_note":
            note_id = f"n{len(self.notes) + 1}"
            self.notes[note_id] = arguments
            return ToolResult(False, {"id": note_id}, "")
        if name == "delete_note":
            if self.notes.pop(arguments["id"], None) is None:
                return ToolResult(True, None, "no such note")
            return ToolResult(False, {"id": arguments["id"], "deleted": True}, "")
        if name == "search_notes":
            hits = [n for n in self.notes.values() if arguments["query"] in n["body"]]
            return ToolResult(False, {"notes": hits}, "")
        if name == "slow_count":
            for i in range(1, arguments["steps"] + 1):
                on_progress(i, arguments["steps"], None)
            return ToolResult(False, {"counted": arguments["steps"]}, "")
        if name == "calculate":
            if arguments["expression"] == "boom":
                raise RemoteError(-32602, "Unknown tool")
            return ToolResult(False, {"value": eval(arguments["expression"], {})}, "")  # test input only
        raise AssertionError(name)


def agent(client: FakeClient, **kwargs: Any) -> tuple[Agent, io.StringIO]:
    out = io.StringIO()
    return Agent(client, RuleBasedPlanner(), trace=Trace("agent", stream=out), **kwargs), out  # type: ignore[arg-type]


async def test_the_loop_calls_tools_in_order_and_feeds_results_forward():
    client = FakeClient()
    run, out = agent(client, confirm=lambda call, tool: True)
    result = await run.run("add a note titled A saying buy a, then compute 2*(3+4), then delete that note")
    assert result.stopped_by == "finished"
    assert client.calls == [("add_note", {"title": "A", "body": "buy a"}),
                            ("calculate", {"expression": "2*(3+4)"}), ("delete_note", {"id": "n1"})]
    assert "confirm delete_note" in out.getvalue() and "approved" in out.getvalue()


async def test_without_a_confirm_function_destructive_calls_are_denied_and_never_sent():
    client = FakeClient()
    run, out = agent(client)
    result = await run.run("add a note titled A saying a, then delete that note")
    assert [name for name, _ in client.calls] == ["add_note"]
    assert result.turns[-1].outcome == "denied" and "DENIED" in out.getvalue()
    assert client.notes == {"n1": {"title": "A", "body": "a"}}


async def test_the_confirm_function_sees_the_call_and_the_tool_and_may_be_async():
    client = FakeClient()
    asked: list[tuple[str, dict, bool]] = []

    async def confirm(call: ToolCall, tool: ToolInfo) -> bool:
        asked.append((call.name, call.arguments, tool.destructive))
        return True

    run, _ = agent(client, confirm=confirm)
    await run.run("add a note titled A saying a, then delete that note")
    assert asked == [("delete_note", {"id": "n1"}, True)]  # add_note is additive: not asked


async def test_an_untrusted_server_gets_confirmation_even_for_additive_tools():
    asked: list[str] = []
    run, _ = agent(FakeClient(), guards=Guardrails(trusted_server=False),
                   confirm=lambda call, tool: asked.append(call.name) or True)
    await run.run("add a note titled A saying a, then compute 1+1")
    assert asked == ["add_note"]


async def test_a_search_that_never_succeeds_is_stopped_by_the_repetition_guard():
    client = FakeClient()
    run, _ = agent(client)
    result = await run.run("keep searching notes for bread until one is found")
    assert result.stopped_by == "repetition" and len(client.calls) == 2
    assert result.answer.startswith("stopped by the repetition guard")


async def test_a_task_that_keeps_making_new_calls_is_stopped_by_the_step_limit():
    client = FakeClient()
    run, _ = agent(client, guards=Guardrails(StepLimit(4)))
    result = await run.run("keep doubling 1 until it exceeds 1000000")
    assert result.stopped_by == "step limit" and len(client.calls) == 4
    assert [t.value for t in result.turns] == [{"value": 2}, {"value": 4}, {"value": 8}, {"value": 16}]


async def test_tool_errors_and_protocol_errors_are_fed_back_not_raised():
    client = FakeClient()
    run, _ = agent(client, confirm=lambda call, tool: True)
    result = await run.run("delete note n9, then compute boom, then compute 1+1")
    assert [t.outcome for t in result.turns] == ["error", "error", "ok"]
    assert "no such note" in result.turns[0].value and "-32602" in result.turns[1].value


async def test_progress_notifications_reach_the_trace():
    run, out = agent(FakeClient())
    await run.run("count to 2")
    assert "progress 1/2" in out.getvalue() and "progress 2/2" in out.getvalue()


async def test_a_call_to_a_tool_the_server_does_not_have_is_an_error_turn():
    class Confused:
        async def decide(self, task, tools, history):
            return ToolCall("format_disk", {}) if not history else Finish("gave up")

    client = FakeClient()
    run = Agent(client, Confused(), trace=Trace("agent", stream=io.StringIO()))  # type: ignore[arg-type]
    result = await run.run("anything")
    assert client.calls == [] and result.turns[0].outcome == "error" and result.answer == "gave up"


async def test_a_task_the_planner_cannot_read_stops_the_loop_with_its_reason():
    run, _ = agent(FakeClient())
    result = await run.run("fly to the moon")
    assert result.stopped_by == "planner" and "does not understand" in result.answer
