"""The planners: the rule-based one reads tasks and results; the OpenAI-compatible one speaks
Chat Completions with tools (against a fake endpoint, and against the sse pattern's endpoint)."""

from __future__ import annotations

import json
import sys

import httpx
import pytest

from learn_mcp.host.client import ToolInfo
from learn_mcp.host.planner import (
    Finish,
    OpenAICompatiblePlanner,
    PlannerError,
    RuleBasedPlanner,
    ToolCall,
    Turn,
    chat_messages,
    coerce,
    openai_tools,
    parse_task,
    read_decision,
)
from wirelab_common.processes import start_server

TOOLS = [
    ToolInfo("calculate", "Evaluate arithmetic.",
             {"type": "object", "properties": {"expression": {"type": "string"}}}, {"readOnlyHint": True}),
    ToolInfo("add_note", "Store a note.", {"type": "object", "properties": {"title": {"type": "string"},
                                                                             "body": {"type": "string"}}}),
    ToolInfo("delete_note", "Delete a note.", {"type": "object", "properties": {"id": {"type": "string"}}},
             {"destructiveHint": True}),
    ToolInfo("search_notes", "Search.", {"type": "object", "properties": {"query": {"type": "string"}}}),
]


async def decide(task: str, history: list[Turn]):
    return await RuleBasedPlanner().decide(task, TOOLS, history)


# -- rule-based -------------------------------------------------------------------------------------


def test_a_task_splits_into_one_step_per_clause():
    steps = parse_task("add a note titled A saying b, then compute 1+1; "
                       "search notes for b then delete note 7")
    assert [s.tool for s in steps] == ["add_note", "calculate", "search_notes", "delete_note"]


def test_a_clause_no_rule_understands_is_an_error():
    with pytest.raises(PlannerError, match="does not understand 'fly to the moon'"):
        parse_task("compute 1+1, then fly to the moon")


async def test_the_planner_walks_the_steps_in_order_then_finishes():
    task = "compute 2*(3+4), then search notes for milk"
    assert await decide(task, []) == ToolCall("calculate", {"expression": "2*(3+4)"})
    first = Turn(ToolCall("calculate", {"expression": "2*(3+4)"}), "ok", {"value": 14})
    assert await decide(task, [first]) == ToolCall("search_notes", {"query": "milk"})
    done = await decide(task, [first, Turn(ToolCall("search_notes", {"query": "milk"}), "ok", {"notes": []})])
    assert isinstance(done, Finish) and "calculate -> ok" in done.answer


async def test_delete_that_note_uses_the_id_the_server_returned():
    added = Turn(ToolCall("add_note", {"title": "A", "body": "b"}), "ok", {"id": "n42"})
    assert await decide("add a note titled A saying b, then delete that note", [added]) == \
        ToolCall("delete_note", {"id": "n42"})


async def test_delete_the_note_titled_finds_the_right_id_among_several():
    history = [Turn(ToolCall("add_note", {"title": "A", "body": "x"}), "ok", {"id": "1"}),
               Turn(ToolCall("add_note", {"title": "B", "body": "y"}), "ok", {"id": "2"})]
    task = "add a note titled A saying x, then add a note titled B saying y, then delete the note titled B"
    assert await decide(task, history) == ToolCall("delete_note", {"id": "2"})


async def test_a_denied_call_counts_as_done_and_the_plan_moves_on():
    task = "delete note 3, then compute 1+1"
    denied = Turn(ToolCall("delete_note", {"id": "3"}), "denied", "the user did not allow this call")
    assert await decide(task, [denied]) == ToolCall("calculate", {"expression": "1+1"})


async def test_a_search_until_found_asks_the_same_question_while_nothing_is_found():
    task = "keep searching notes for bread until one is found"
    empty = Turn(ToolCall("search_notes", {"query": "bread"}), "ok", {"notes": []})
    assert await decide(task, [empty, empty]) == ToolCall("search_notes", {"query": "bread"})
    found = Turn(ToolCall("search_notes", {"query": "bread"}), "ok", {"notes": [{"id": "1"}]})
    assert isinstance(await decide(task, [empty, found]), Finish)


async def test_doubling_feeds_each_result_into_the_next_call():
    task = "keep doubling 3 until it exceeds 10"
    assert await decide(task, []) == ToolCall("calculate", {"expression": "3*2"})
    six = Turn(ToolCall("calculate", {"expression": "3*2"}), "ok", {"value": 6})
    assert await decide(task, [six]) == ToolCall("calculate", {"expression": "6*2"})
    twelve = Turn(ToolCall("calculate", {"expression": "6*2"}), "ok", {"value": 12})
    assert isinstance(await decide(task, [six, twelve]), Finish)


def test_arguments_are_fitted_to_the_schema_types():
    assert coerce({"id": 7}, {"properties": {"id": {"type": "string"}}}) == {"id": "7"}
    assert coerce({"steps": "5"}, {"properties": {"steps": {"type": "integer"}}}) == {"steps": 5}


# -- OpenAI-compatible: the message shapes --------------------------------------------------------------


def test_mcp_tools_become_openai_function_tools():
    tool = openai_tools(TOOLS[:1])[0]
    assert tool == {"type": "function",
                    "function": {"name": "calculate", "description": "Evaluate arithmetic.",
                                 "parameters": TOOLS[0].input_schema}}


def test_each_turn_goes_back_as_an_assistant_tool_call_and_a_tool_message():
    turn = Turn(ToolCall("calculate", {"expression": "1+1"}, "call_abc"), "ok", {"value": 2})
    messages = chat_messages("add", [turn])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    call = messages[2]["tool_calls"][0]
    assert call["id"] == "call_abc" and call["function"]["name"] == "calculate"
    assert json.loads(call["function"]["arguments"]) == {"expression": "1+1"}
    assert messages[3]["tool_call_id"] == "call_abc"
    assert json.loads(messages[3]["content"]) == {"outcome": "ok", "value": {"value": 2}}


def test_a_reply_with_tool_calls_is_a_call_and_one_without_is_the_answer():
    function = {"name": "calculate", "arguments": '{"expression":"2"}'}
    call = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": function}]}}]}
    assert read_decision(call) == ToolCall("calculate", {"expression": "2"}, "c1")
    text = {"choices": [{"message": {"role": "assistant", "content": "done"}}]}
    assert read_decision(text) == Finish("done")
    with pytest.raises(PlannerError):
        read_decision({"error": {"message": "nope"}})


# -- OpenAI-compatible: over HTTP -------------------------------------------------------------------


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


async def test_the_sse_patterns_endpoint_answers_with_text_so_the_planner_finishes():
    """The fixed-rule 'model' of learn_sse ignores tools: a text answer is a Finish."""
    argv = [sys.executable, "-m", "learn_sse.server", "--port", "0", "--tick", "0", "--token-delay", "0"]
    with start_server(argv, name="sse") as server:
        planner = OpenAICompatiblePlanner(server.url)
        try:
            decision = await planner.decide("compute 2*(3+4)", TOOLS, [
                Turn(ToolCall("calculate", {"expression": "1"}), "ok", {"value": 1})])
        finally:
            await planner.close()
    assert isinstance(decision, Finish) and "fixed-rule reply" in decision.answer
