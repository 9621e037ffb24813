"""Multi round-trip requests, the server's half (mrtr.py): rounds, and a requestState that cannot
be forged; the listen filter (listen.py)."""

from __future__ import annotations

import pytest

from learn_mcp.jsonrpc import JsonRpcError, Notification
from learn_mcp.listen import honored, matches
from learn_mcp.mrtr import STATE_TTL, InputRequired, Round

pytestmark = pytest.mark.pure

CALL = {"name": "ask_for_note", "arguments": {"why": "for the list"}}
FORM = {"message": "what should it say?", "requestedSchema": {"type": "object", "properties": {}}}


def first_round(now: float = 1000.0) -> dict:
    with pytest.raises(InputRequired) as needed:
        Round("tools/call", CALL, clock=lambda: now).ask("elicitation/create", FORM)
    return Round("tools/call", CALL, clock=lambda: now).result(needed.value)


def test_the_first_round_asks_and_the_retry_finds_its_answer():
    result = first_round()
    assert result["resultType"] == "input_required"
    assert result["inputRequests"] == {"elicitation-0": {"method": "elicitation/create", "params": FORM}}
    retry = {**CALL, "inputResponses": {"elicitation-0": {"action": "decline"}},
             "requestState": result["requestState"]}
    answer = Round("tools/call", retry, clock=lambda: 1001.0).ask("elicitation/create", FORM)
    assert answer == {"action": "decline"}


def test_answers_of_earlier_rounds_ride_in_the_state():
    state = first_round()["requestState"]
    second = Round("tools/call", {**CALL, "inputResponses": {"elicitation-0": {"action": "accept"}},
                                  "requestState": state}, clock=lambda: 1001.0)
    assert second.ask("elicitation/create", FORM) == {"action": "accept"}
    with pytest.raises(InputRequired) as needed:
        second.ask("sampling/createMessage", {"messages": []})  # a second question: a third round
    third_state = second.result(needed.value)["requestState"]
    third = Round("tools/call", {**CALL, "inputResponses": {"sampling-1": {"role": "assistant"}},
                                 "requestState": third_state}, clock=lambda: 1002.0)
    assert third.ask("elicitation/create", FORM) == {"action": "accept"}  # not resent: from the state
    assert third.ask("sampling/createMessage", {"messages": []}) == {"role": "assistant"}


@pytest.mark.parametrize("change", ["tampered", "other arguments", "expired", "answers without state"])
def test_a_state_that_does_not_verify_is_refused(change):
    state = first_round()["requestState"]
    params = {**CALL, "inputResponses": {"elicitation-0": {"action": "accept"}}, "requestState": state}
    now = 1001.0
    if change == "tampered":
        params["requestState"] = state[:-1] + ("0" if state[-1] != "0" else "1")
    elif change == "other arguments":
        params["arguments"] = {"why": "something else"}
    elif change == "expired":
        now += STATE_TTL + 1
    else:
        del params["requestState"]
    with pytest.raises(JsonRpcError) as refused:
        Round("tools/call", params, clock=lambda: now)
    assert refused.value.code == -32602


def test_listen_honors_only_what_was_asked():
    wanted = honored({"resourceSubscriptions": ["notes://n1"], "toolsListChanged": False})
    assert wanted == {"resourceSubscriptions": ["notes://n1"]}
    assert matches(wanted, Notification("notifications/resources/updated", {"uri": "notes://n1"}))
    assert not matches(wanted, Notification("notifications/resources/updated", {"uri": "notes://n2"}))
    assert not matches(wanted, Notification("notifications/resources/list_changed"))
    with pytest.raises(JsonRpcError):
        honored({"resourceSubscriptions": "notes://n1"})
