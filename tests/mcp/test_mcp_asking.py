"""The host's answers to a server's questions, pure: schema checks, defaults, the sampling guardrail."""

from __future__ import annotations

import pytest

from learn_mcp.conformance_fixtures import DEFAULTS, ENUMS, USER
from learn_mcp.host.asking import Answerer, check_content, with_defaults
from learn_mcp.jsonrpc import ErrorResponse, Request, Response

pytestmark = pytest.mark.pure


def test_content_is_checked_against_the_requested_schema():
    assert check_content(USER, {"username": "ada", "email": "a@b"}) == []
    assert check_content(USER, {"username": "ada"}) == ["email: required"]
    assert check_content(USER, {"username": 7, "email": "a@b", "x": 1}) == [
        "username: expected string, got int", "x: not in the schema"]
    good = {"untitledSingle": "option1", "titledSingle": "value2", "legacyEnum": "opt3",
            "untitledMulti": ["option1", "option3"], "titledMulti": ["value1"]}
    assert check_content(ENUMS, good) == []
    assert check_content(ENUMS, {**good, "titledSingle": "value9"}) == [
        "titledSingle: 'value9' is not one of ['value1', 'value2', 'value3']"]
    assert check_content(ENUMS, {**good, "untitledMulti": ["option4"]})  # not an allowed item


def test_defaults_fill_what_the_user_left_out():
    filled = with_defaults(DEFAULTS, {"name": "Jane"})
    assert filled == {"name": "Jane", "age": 30, "score": 95.5, "status": "active", "verified": True}
    assert check_content(DEFAULTS, filled) == []


async def generate(messages, max_tokens):
    return "scripted text"


def elicitation(id: int, schema: dict) -> Request:
    return Request(id, "elicitation/create", {"message": "m", "requestedSchema": schema})


async def test_scripted_user_accepts_declines_cancels_and_bad_content_is_not_sent():
    answerer = Answerer(generate, confirm=lambda text: True, script=[
        ("accept", {"username": "ada", "email": "a@b"}), ("decline", None),
        ("accept", {"username": "ada"}), ("cancel", None)])
    answers = [await answerer.answer(elicitation(i, USER)) for i in range(1, 6)]
    assert [a.result["action"] for a in answers] == ["accept", "decline", "cancel", "cancel", "cancel"]
    assert answers[0].result["content"] == {"username": "ada", "email": "a@b"}
    assert answerer.problems == ["email: required"]  # the third answer was not sent


async def test_sampling_asks_the_user_first():
    request = Request(1, "sampling/createMessage", {"messages": [
        {"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 10})
    shown: list[str] = []
    yes = await Answerer(generate, confirm=lambda text: shown.append(text) or True).answer(request)
    assert isinstance(yes, Response) and yes.result["content"]["text"] == "scripted text"
    assert "hi" in shown[0]
    no = await Answerer(generate, confirm=lambda text: False).answer(request)
    assert isinstance(no, ErrorResponse) and no.error.code == -1
    other = await Answerer(generate, confirm=lambda text: True).answer(Request(2, "roots/list"))
    assert isinstance(other, ErrorResponse) and other.error.code == -32601
