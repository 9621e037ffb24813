"""The guardrails are pure: histories and annotations in, a verdict out."""

from __future__ import annotations

import pytest

from learn_mcp.host.guards import (
    Guardrails,
    RepetitionGuard,
    StepLimit,
    fingerprint,
    is_destructive,
    needs_confirmation,
)

pytestmark = pytest.mark.pure


def test_step_limit_allows_calls_below_the_limit_and_stops_at_it():
    limit = StepLimit(3)
    assert limit.check(0) is None and limit.check(2) is None
    stop = limit.check(3)
    assert stop is not None and stop.guard == "step limit" and "limit is 3" in stop.reason


def test_fingerprint_ignores_key_order():
    assert fingerprint("t", {"a": 1, "b": 2}, {"x": [1]}) == fingerprint("t", {"b": 2, "a": 1}, {"x": [1]})


def test_the_same_call_with_the_same_result_twice_is_a_loop():
    same = fingerprint("search_notes", {"query": "bread"}, {"notes": []})
    guard = RepetitionGuard()
    assert guard.check([same]) is None
    stop = guard.check([same, same])
    assert stop is not None and stop.guard == "repetition" and "search_notes" in stop.reason


def test_the_same_call_with_a_new_result_is_progress_not_a_loop():
    history = [fingerprint("job_status", {"id": 1}, {"done": pct}) for pct in (10, 50, 90)]
    assert RepetitionGuard().check(history) is None


def test_a_cycle_of_two_calls_is_caught_too():
    a = fingerprint("a", {}, 1)
    b = fingerprint("b", {}, 2)
    guard = RepetitionGuard()
    assert guard.check([a, b]) is None
    assert guard.check([a, b, a]) is not None


def test_a_higher_repetition_limit_waits_longer():
    same = fingerprint("t", {}, None)
    assert RepetitionGuard(3).check([same, same]) is None
    assert RepetitionGuard(3).check([same, same, same]) is not None


def test_an_unannotated_tool_is_destructive_by_the_spec_defaults():
    assert is_destructive({}) is True  # readOnlyHint defaults to false, destructiveHint to true


def test_read_only_and_additive_tools_are_not_destructive():
    assert is_destructive({"readOnlyHint": True}) is False
    # destructiveHint means nothing on a read-only tool
    assert is_destructive({"readOnlyHint": True, "destructiveHint": True}) is False
    assert is_destructive({"readOnlyHint": False, "destructiveHint": False}) is False


def test_a_trusted_server_gets_confirmation_for_destructive_tools_only():
    assert needs_confirmation({"destructiveHint": True}, trusted=True)
    assert needs_confirmation({}, trusted=True)
    assert not needs_confirmation({"destructiveHint": False}, trusted=True)
    assert not needs_confirmation({"readOnlyHint": True}, trusted=True)


def test_an_untrusted_server_gets_confirmation_for_anything_not_read_only():
    assert needs_confirmation({"destructiveHint": False}, trusted=False)  # it may be lying
    assert not needs_confirmation({"readOnlyHint": True}, trusted=False)


def test_guardrails_combine_the_three_guards():
    guards = Guardrails(StepLimit(1), RepetitionGuard(2), trusted_server=True)
    assert guards.before_call(0) is None and guards.before_call(1) is not None
    assert guards.after_call([fingerprint("t", {}, 1)]) is None
    assert guards.confirm_first({"destructiveHint": True})
    assert not guards.confirm_first({"readOnlyHint": True})
