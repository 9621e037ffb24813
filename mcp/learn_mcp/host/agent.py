"""The agent loop: decide, call a tool, feed the result back, repeat until done, inside guardrails.

Reading order: client -> guards -> planner -> **agent** -> demo.

This is what an "AI host" does with MCP, with the model swapped for a
:class:`~learn_mcp.host.planner.Planner`::

    tools = tools/list
    loop:
        decision = planner.decide(task, tools, history)      # the model's turn
        if decision is Finish: return its answer
        step limit reached?            -> stop  (guards.StepLimit)
        tool may destroy something?    -> ask a person; "no" is fed back as the result
        result = tools/call(decision)  # progress shown as it arrives
        history += (decision, result)  # the planner sees it next time round
        same call, same result again?  -> stop  (guards.RepetitionGuard)

The confirmation is a function passed in (``confirm``): a terminal prompt in a real
host, a scripted answer in the demo and tests.  Without one, every destructive call is
denied: no person present means no consent.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from wirelab_common.wiretrace import Trace

from .client import McpClient, ToolInfo
from .client_session import ProtocolError, RemoteError
from .guards import Guardrails, Stop, fingerprint
from .planner import Finish, Planner, PlannerError, ToolCall, Turn

Confirm = Callable[[ToolCall, ToolInfo], bool | Awaitable[bool]]


def deny(call: ToolCall, tool: ToolInfo) -> bool:
    """The default answer when nobody is there to ask."""
    return False


@dataclass
class AgentResult:
    answer: str
    turns: list[Turn] = field(default_factory=list)
    stop: Stop | None = None  # None: the planner finished the task

    @property
    def stopped_by(self) -> str:
        return self.stop.guard if self.stop else "finished"


class Agent:
    """Runs tasks against one connected :class:`McpClient`."""

    def __init__(self, client: McpClient, planner: Planner, *, guards: Guardrails | None = None,
                 confirm: Confirm = deny, trace: Trace | None = None, call_timeout: float = 30.0) -> None:
        self.client = client
        self.planner = planner
        self.guards = guards or Guardrails()
        self.confirm = confirm
        self.trace = trace or Trace("agent")
        self.call_timeout = call_timeout

    async def run(self, task: str) -> AgentResult:
        self.trace.state(f"task: {task}")
        tools = await self.client.list_tools()
        by_name = {tool.name: tool for tool in tools}
        result = AgentResult("")
        seen: list[str] = []  # fingerprints of (call, result), for the repetition guard
        while True:
            try:
                decision = await self.planner.decide(task, tools, result.turns)
            except PlannerError as exc:
                return self._stopped(result, Stop("planner", str(exc)))
            if isinstance(decision, Finish):
                result.answer = decision.answer
                self.trace.state(f"finished after {len(result.turns)} call(s): {decision.answer}")
                return result
            stop = self.guards.before_call(len(result.turns))
            if stop is not None:
                return self._stopped(result, stop)
            turn = await self._step(decision, by_name.get(decision.name), len(result.turns) + 1)
            result.turns.append(turn)
            seen.append(fingerprint(turn.call.name, turn.call.arguments, [turn.outcome, turn.value]))
            stop = self.guards.after_call(seen)
            if stop is not None:
                return self._stopped(result, stop)

    async def _step(self, call: ToolCall, tool: ToolInfo | None, number: int) -> Turn:
        args = json.dumps(call.arguments, ensure_ascii=False)
        self.trace.state(f"step {number}: the planner chose {call.name} {args}")
        if tool is None:
            return Turn(call, "error", f"there is no tool named {call.name!r}")
        if self.guards.confirm_first(tool.annotations):
            answer = self.confirm(call, tool)
            approved = await answer if inspect.isawaitable(answer) else answer
            self.trace.state(f"confirm {call.name} {args}? {'approved' if approved else 'DENIED'}")
            if not approved:
                return Turn(call, "denied", "the user did not allow this call")
        try:
            outcome = await self.client.call_tool(call.name, call.arguments, on_progress=self._progress,
                                                  timeout=self.call_timeout)
        except (RemoteError, ProtocolError) as exc:
            return Turn(call, "error", str(exc))
        if outcome.is_error:
            return Turn(call, "error", outcome.text)
        return Turn(call, "ok", outcome.value)

    def _progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.trace.state(f"  progress {progress:g}{f'/{total:g}' if total else ''} {message or ''}".rstrip())

    def _stopped(self, result: AgentResult, stop: Stop) -> AgentResult:
        result.stop = stop
        result.answer = f"stopped by the {stop.guard} guard: {stop.reason}"
        self.trace.state(result.answer)
        return result
