"""The planners, without I/O: the rule-based one reads tasks and results; the OpenAI-compatible
one's messages and replies (its HTTP side: test_mcp_openai_planner.py, test_mcp_planner_sse.py)."""

from __future__ import annotations

import json

import pytest

from learn_mcp.host.client import ToolInfo
from learn_mcp.host.planner import (
    Finish,
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

pytestmark = pytest.mark.pure

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


async def test_the_rule_planner_stands_in_for_a_model_when_a_server_samples():
    text = "Summarize these notes in one line:\n- Milk: buy milk\n- Tea: buy"
    messages = [{"role": "user", "content": {"type": "text", "text": text}}]
    assert await RuleBasedPlanner().generate(messages, 60) == "Milk: buy milk; Tea: buy"
    assert await RuleBasedPlanner().generate(messages, 2) == "Milk: buy"  # max_tokens, counted in words
