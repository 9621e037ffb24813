"""The agent's guardrails, as pure functions: when to stop, and when to ask a human first.

Reading order: client -> **guards** -> planner -> agent -> demo.

An agent loop hands control to something that is not a program you wrote (a model,
or a planner reading tool results), so the host keeps three limits of its own.  None
of them trusts the planner, and none of them does I/O: they look at the history of
calls and results, and at a tool's annotations, and answer.

- :class:`StepLimit`: at most N tool calls per task.  A planner that keeps finding
  one more thing to do (each call different, so nothing repeats) still ends.
- :class:`RepetitionGuard`: the same call with the same result, seen ``limit`` times,
  means the planner learnt nothing from it and will ask again.  Stop instead of
  looping.  (Same call, *different* result is progress, e.g. polling a job.)
- :func:`needs_confirmation`: a tool that may destroy something waits for a yes
  from a person.  MCP tells the client which tools those are through
  ``annotations`` (server/tools, ToolAnnotations): ``readOnlyHint`` (default false)
  and ``destructiveHint`` (default **true**, meaningful when not read-only).  So a
  tool that says nothing is treated as destructive.  The spec also says these are
  *hints*, and that a client must treat them as untrusted unless the server is
  trusted: ``needs_confirmation(..., trusted=False)`` (that function's default)
  confirms every tool that is not declared read-only, even one that claims
  ``destructiveHint: false``.  :class:`Guardrails`, which the agent uses, defaults
  to ``trusted_server=True`` (the demo's servers are our own, so only destructive
  tools are confirmed); give it ``trusted_server=False`` for anyone else's server.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stop:
    """Why the loop ended early: which guard, and what it saw."""

    guard: str
    reason: str


def fingerprint(name: str, arguments: dict[str, Any], result: Any) -> str:
    """A call and its result as one comparable string (key order does not matter)."""
    return json.dumps([name, arguments, result], sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class StepLimit:
    max_steps: int = 8

    def check(self, steps_taken: int) -> Stop | None:
        """Called before a new tool call: ``steps_taken`` calls have been made already."""
        if steps_taken >= self.max_steps:
            return Stop("step limit", f"{steps_taken} tool calls made; the limit is {self.max_steps}")
        return None


@dataclass(frozen=True)
class RepetitionGuard:
    limit: int = 2  # the second identical (call, result) already adds nothing

    def check(self, history: Sequence[str]) -> Stop | None:
        """``history``: the :func:`fingerprint` of every call so far, the newest last."""
        if not history:
            return None
        seen = Counter(history)[history[-1]]
        if seen >= self.limit:
            name = json.loads(history[-1])[0]
            return Stop("repetition", f"{name} was called {seen} times with the same arguments "
                                      f"and got the same result each time")
        return None


def is_read_only(annotations: dict[str, Any]) -> bool:
    return bool(annotations.get("readOnlyHint", False))


def is_destructive(annotations: dict[str, Any]) -> bool:
    """The spec's reading of the hints, defaults included."""
    return not is_read_only(annotations) and bool(annotations.get("destructiveHint", True))


def needs_confirmation(annotations: dict[str, Any], trusted: bool = False) -> bool:
    """Ask a person before this call?  Trusted servers: destructive tools only.

    Untrusted servers: everything that is not declared read-only, because a server
    that lies about ``destructiveHint: false`` is exactly the one to worry about.
    (A lying ``readOnlyHint: true`` still gets through: hints are not a sandbox; see
    the README's "What production adds".)
    """
    return is_destructive(annotations) if trusted else not is_read_only(annotations)


@dataclass(frozen=True)
class Guardrails:
    """The three guards together, as the agent uses them."""

    steps: StepLimit = StepLimit()
    repetition: RepetitionGuard = RepetitionGuard()
    trusted_server: bool = True  # our demo servers; see needs_confirmation for the other case

    def before_call(self, steps_taken: int) -> Stop | None:
        return self.steps.check(steps_taken)

    def after_call(self, history: Sequence[str]) -> Stop | None:
        return self.repetition.check(history)

    def confirm_first(self, annotations: dict[str, Any]) -> bool:
        return needs_confirmation(annotations, self.trusted_server)
