"""The deciding step of the agent loop: given the task, the tools and what happened so far,
call which tool next, or finish?

Reading order: client -> guards -> **planner** -> agent -> demo.

In a real host a language model decides.  The loop does not care who decides, so the
decision is an interface, :class:`Planner`, with two implementations:

- :class:`RuleBasedPlanner`: deterministic, no model.  It reads a task such as
  ``add a note titled Milk saying buy milk, then compute 2*(3+4), then delete that note``
  as a list of steps, and *reads tool results* to fill later arguments ("that note" is
  the id the ``add_note`` result gave).  Two loop steps exist to exercise the guards:
  ``keep searching notes for X until one is found`` asks the same question again and
  again (the repetition guard stops it), and ``keep doubling 1 until it exceeds N``
  makes a new call each time (only the step limit stops it).  When a server asks for
  sampling, its ``generate`` stands in for a model: it lists the lines of the request
  that start with ``- `` (the notes ``summarize`` sends), clipped to ``max_tokens`` words.
- :class:`OpenAICompatiblePlanner`: sends the conversation to any
  ``/v1/chat/completions`` endpoint with the MCP tools as OpenAI ``tools`` (the tool's
  ``inputSchema`` is the function's ``parameters``) and reads ``tool_calls`` back.  Each
  earlier call goes back as an assistant message with ``tool_calls`` plus a ``tool``
  message with the result: that is how the model "sees" what its calls returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from .client import ToolInfo


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    call_id: str | None = None  # the model's id for it (OpenAI tool_call_id), if any


@dataclass(frozen=True)
class Finish:
    answer: str


Decision = ToolCall | Finish


@dataclass(frozen=True)
class Turn:
    """One step of history: the call, and what came of it."""

    call: ToolCall
    outcome: str  # "ok", "error" (the tool or the protocol said no) or "denied" (the human said no)
    value: Any  # the structured result, or the error text

    def observation(self) -> dict[str, Any]:
        """What the planner is told about this turn."""
        return {"outcome": self.outcome, "value": self.value}


class Planner(Protocol):
    async def decide(self, task: str, tools: Sequence[ToolInfo], history: Sequence[Turn]) -> Decision: ...


class PlannerError(Exception):
    """The planner could not produce a decision (bad endpoint answer, unknown task)."""


# -- the rule-based planner ------------------------------------------------------------------------


Args = Callable[[list[Turn], list[Turn]], dict[str, Any] | None]  # (this step's turns, earlier turns)


@dataclass(frozen=True)
class Step:
    """One step of a parsed task: which tool, its arguments, and when the step is done."""

    tool: str
    args: Args
    done: Callable[[list[Turn]], bool] = lambda own: bool(own)  # default: after one call


def _last_value(turns: Sequence[Turn], tool: str) -> Any:
    for turn in reversed(turns):
        if turn.call.name == tool and turn.outcome == "ok":
            return turn.value
    return None


def _delete_that_note(own: list[Turn], before: list[Turn]) -> dict[str, Any] | None:
    added = _last_value(before, "add_note")
    return {"id": added["id"]} if isinstance(added, dict) and "id" in added else None


def _delete_titled(title: str) -> Args:
    def args(own: list[Turn], before: list[Turn]) -> dict[str, Any] | None:
        for turn in before:  # the id is whatever the server answered when that note was added
            added = turn.call.name == "add_note" and turn.outcome == "ok"
            if added and turn.call.arguments.get("title") == title:
                return {"id": turn.value["id"]}
        return None
    return args


def _double(start: int) -> Args:
    def args(own: list[Turn], before: list[Turn]) -> dict[str, Any]:
        value = _last_value(own, "calculate")
        current = value["value"] if isinstance(value, dict) else start
        return {"expression": f"{current:g}*2"}
    return args


def _exceeds(limit: int) -> Callable[[list[Turn]], bool]:
    def done(own: list[Turn]) -> bool:
        value = _last_value(own, "calculate")
        return isinstance(value, dict) and value.get("value", 0) > limit
    return done


def _found(own: list[Turn]) -> bool:
    value = _last_value(own, "search_notes")
    return isinstance(value, dict) and bool(value.get("notes"))


# Each rule: a pattern for one clause of the task -> the Step it means.
RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Step]]] = [
    (re.compile(r"add a note titled (?P<title>.+?) saying (?P<body>.+)", re.I),
     lambda m: Step("add_note", lambda own, before: {"title": m["title"], "body": m["body"]})),
    (re.compile(r"(?:compute|calculate) (?P<expr>.+)", re.I),
     lambda m: Step("calculate", lambda own, before: {"expression": m["expr"]})),
    (re.compile(r"delete the note titled (?P<title>.+)", re.I),
     lambda m: Step("delete_note", _delete_titled(m["title"]))),
    (re.compile(r"delete (?:that|the) note", re.I),
     lambda m: Step("delete_note", _delete_that_note)),
    (re.compile(r"delete note (?P<id>\S+)", re.I),
     lambda m: Step("delete_note", lambda own, before: {"id": m["id"]})),
    (re.compile(r"keep searching notes for (?P<q>.+?) until one is found", re.I),
     lambda m: Step("search_notes", lambda own, before: {"query": m["q"]}, _found)),
    (re.compile(r"search (?:the )?notes for (?P<q>.+)", re.I),
     lambda m: Step("search_notes", lambda own, before: {"query": m["q"]})),
    (re.compile(r"count to (?P<n>\d+)", re.I),
     lambda m: Step("slow_count", lambda own, before: {"steps": int(m["n"]), "delay": 0.02})),
    (re.compile(r"keep doubling (?P<start>\d+) until it exceeds (?P<limit>\d+)", re.I),
     lambda m: Step("calculate", _double(int(m["start"])), _exceeds(int(m["limit"])))),
]
CLAUSE_SEPARATOR = re.compile(r",?\s+then\s+|;\s*", re.I)


def parse_task(task: str) -> list[Step]:
    """The task as steps, in order; a clause no rule understands is a PlannerError."""
    steps = []
    for clause in filter(None, (c.strip().rstrip(".") for c in CLAUSE_SEPARATOR.split(task))):
        for pattern, make in RULES:
            match = pattern.fullmatch(clause)
            if match:
                steps.append(make(match))
                break
        else:
            raise PlannerError(f"the rule-based planner does not understand {clause!r}")
    return steps


def coerce(arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Fit argument types to the tool's inputSchema (an id may be a string on one server)."""
    props = schema.get("properties") or {}
    fixed = {}
    for key, value in arguments.items():
        kind = (props.get(key) or {}).get("type")
        if kind == "string" and not isinstance(value, str):
            value = str(value)
        elif kind == "integer" and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        fixed[key] = value
    return fixed


class RuleBasedPlanner:
    """Deterministic: the same task and the same results give the same calls.

    It keeps no state between calls: every decision replays the task's steps over the
    history, so the history (what the tools really returned) is the only memory.
    """

    async def decide(self, task: str, tools: Sequence[ToolInfo], history: Sequence[Turn]) -> Decision:
        schemas = {tool.name: tool.input_schema for tool in tools}
        position = 0
        for step in parse_task(task):
            start, own = position, []  # own: this step's turns so far
            while not step.done(own):
                if position < len(history):  # this call was made already: its turn is history
                    own.append(history[position])
                    position += 1
                    continue
                arguments = step.args(own, list(history[:start]))
                if arguments is None:
                    return Finish(f"cannot do {step.tool}: an earlier step gave nothing to use")
                return ToolCall(step.tool, coerce(arguments, schemas.get(step.tool, {})))
        return Finish(summary(history))

    async def generate(self, messages: list[dict[str, Any]], max_tokens: int) -> str:
        """Sampling without a model (asking.Answerer's ``generate``): the request's list items, joined."""
        text = "\n".join(str((m.get("content") or {}).get("text", "")) for m in messages)
        items = [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]
        words = ("; ".join(items) if items else text).split()
        return " ".join(words[:max_tokens])


def summary(history: Sequence[Turn]) -> str:
    if not history:
        return "nothing to do"
    return "; ".join(f"{t.call.name} -> {t.outcome} {json.dumps(t.value, sort_keys=True)}" for t in history)


# -- the OpenAI-compatible planner ------------------------------------------------------------------


SYSTEM_PROMPT = ("You are an agent inside an MCP host. Use the tools to do the user's task, one call "
                 "at a time; when it is done, answer in one sentence without calling a tool.")


def chat_messages(task: str, history: Sequence[Turn]) -> list[dict[str, Any]]:
    """The conversation so far, in Chat Completions form."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT},
                                      {"role": "user", "content": task}]
    for number, turn in enumerate(history, start=1):
        call_id = turn.call.call_id or f"call_{number}"
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": turn.call.name, "arguments": json.dumps(turn.call.arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(turn.observation())})
    return messages


def openai_tools(tools: Sequence[ToolInfo]) -> list[dict[str, Any]]:
    """MCP tools as OpenAI function tools: the inputSchema is the parameters schema."""
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.input_schema or {"type": "object"}}}
            for t in tools]


def read_decision(body: Any) -> Decision:
    """The first tool call of the first choice, or its text as the final answer."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise PlannerError(f"not a chat.completion: {json.dumps(body)[:200]}") from None
    calls = message.get("tool_calls") or []
    if calls:
        # Several calls in one answer (parallel tool calls) are done one per turn here:
        # the first now; the model is asked again with its result and may repeat the rest.
        function = calls[0].get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            raise PlannerError(f"tool call arguments are not JSON: {exc}") from None
        return ToolCall(function.get("name", ""), arguments, calls[0].get("id"))
    return Finish(message.get("content") or "")


class OpenAICompatiblePlanner:
    """Decides through ``POST {base_url}/v1/chat/completions`` (not streamed)."""

    def __init__(self, base_url: str, model: str = "wirelab-planner", api_key: str | None = None,
                 http: httpx.AsyncClient | None = None, timeout: float = 30.0) -> None:
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = http or httpx.AsyncClient(timeout=timeout)

    async def decide(self, task: str, tools: Sequence[ToolInfo], history: Sequence[Turn]) -> Decision:
        body = {"model": self.model, "messages": chat_messages(task, history), "tools": openai_tools(tools),
                "tool_choice": "auto", "stream": False}
        response = await self.http.post(self.url, json=body, headers=self.headers)
        if response.status_code != 200:
            raise PlannerError(f"{self.url} answered {response.status_code}: {response.text[:200]}")
        return read_decision(response.json())

    async def generate(self, messages: list[dict[str, Any]], max_tokens: int) -> str:
        """The model's text for a server's ``sampling/createMessage`` (asking.Answerer's ``generate``).

        MCP sampling messages carry ``{role, content: {type: text, text}}``; the chat API wants
        ``{role, content: text}``.  Non-text content is left out: this endpoint reads text only.
        """
        chat = [{"role": m.get("role", "user"), "content": (m.get("content") or {}).get("text", "")}
                for m in messages if (m.get("content") or {}).get("type") == "text"]
        body = {"model": self.model, "messages": chat, "max_tokens": max_tokens, "stream": False}
        response = await self.http.post(self.url, json=body, headers=self.headers)
        if response.status_code != 200:
            raise PlannerError(f"{self.url} answered {response.status_code}: {response.text[:200]}")
        return str(response.json()["choices"][0]["message"].get("content") or "")

    async def close(self) -> None:
        await self.http.aclose()
