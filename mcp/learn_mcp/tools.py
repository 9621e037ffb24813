"""Tools: functions a model may call, each with a JSON Schema for its input and its output.

Reading order: jsonrpc -> lifecycle -> notes / calculator / schema -> **tools** / resources /
prompts -> server_core -> transports -> server.

Spec: 2025-11-25 and 2026-07-28 server/tools.  ``tools/list`` returns each
:class:`Tool`'s definition; ``tools/call`` runs one.  Two kinds of failure
are kept apart, as the spec asks (§Error Handling):

- a *protocol* error (JSON-RPC error -32602): the tool does not exist, or
  ``arguments`` is not an object.  The caller got the protocol wrong.
- a *tool execution* error: a result with ``isError: true`` and a text
  content saying what went wrong.  Arguments that fail the input schema are
  reported this way too (2025-11-25 §Error Handling, SEP-1303): the model reads
  the message and can correct itself, which it cannot do with a protocol error.

A successful call returns ``structuredContent`` (checked against the tool's
``outputSchema``) and, for clients that only read ``content``, the same JSON as
text (§Structured Content: a server SHOULD do both).

The tools (the contract the client and the agent rely on):

    calculate     {"expression": str}               -> {"value": number}
    add_note      {"title": str, "body": str}       -> {"id": str}
    add_notes     {"notes": [[title, body], ...]}   -> {"ids": [str]}  (schema 2020-12: $defs, prefixItems)
    search_notes  {"query": str}                    -> {"notes": [{"id","title","body"}]}
    delete_note   {"id": str}                       -> {"id": str, "deleted": true}  (destructiveHint)
    slow_count    {"steps": int, "delay": number}   -> {"counted": int}   (progress, cancellable)
    summarize     {"query": str}                    -> {"summary": str, "model": str}  (asks: sampling)
    ask_for_note  {"why": str}                      -> {"action": str, "id"?: str}  (asks: elicitation)
    remind        {"about": str, "after": number}   -> {"scheduled": true}  (asks later, in the background)

The last three ask the client (``ctx.ask``: outbox.py): ``summarize`` asks the host's model
to write the summary and ``ask_for_note`` asks the user to fill in a form, both in the middle
of the call; ``remind`` returns at once and asks the user ``after`` seconds later, when no
request of the client's is open (over HTTP the question then rides the GET stream).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from .calculator import CalcError, evaluate
from .jsonrpc import INVALID_PARAMS, JsonRpcError
from .notes import NoteBook
from .resources import INDEX_URI, NOTE_PREFIX
from .schema import validate


class ToolContext(Protocol):
    """What a running tool may do besides computing: the driver supplies it (see server_core)."""

    notes: NoteBook

    async def progress(self, progress: float, total: float | None, message: str | None) -> None: ...
    async def log(self, level: str, data: Any) -> None: ...
    async def sleep(self, seconds: float) -> None: ...
    async def resources_changed(self, *updated: str) -> None: ...
    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]: ...  # outbox.py
    def can_ask(self, method: str) -> bool: ...  # did the client declare that capability?
    def later(self, work: Coroutine[Any, Any, None]) -> None: ...  # run after the call returned
    def close_stream(self) -> bool: ...  # end the connection, not the call (resumable HTTP streams)


class ToolError(Exception):
    """A tool failed in a way the model should hear about: becomes ``isError: true``."""


Handler = Callable[[dict[str, Any], ToolContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    run: Handler
    annotations: dict[str, Any] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """The entry in ``tools/list`` (server/tools §Tool)."""
        entry = {"name": self.name, "title": self.title, "description": self.description,
                 "inputSchema": self.input_schema, "outputSchema": self.output_schema}
        if self.annotations:
            entry["annotations"] = self.annotations
        return entry


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


NOTE_SCHEMA = _object({"id": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"}},
                      ["id", "title", "body"])


async def calculate(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    try:
        return {"value": evaluate(args["expression"])}
    except CalcError as exc:
        raise ToolError(f"cannot calculate {args['expression']!r}: {exc}") from None


async def add_note(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    note = ctx.notes.add(args["title"], args["body"])
    await ctx.log("info", {"event": "note added", "id": note.id, "title": note.title})
    await ctx.resources_changed(INDEX_URI)
    return {"id": note.id}


async def add_notes(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    ids = [ctx.notes.add(title, body).id for title, body in args["notes"]]  # each a [title, body] pair
    await ctx.log("info", {"event": "notes added", "ids": ids})
    await ctx.resources_changed(INDEX_URI)
    return {"ids": ids}


async def search_notes(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"notes": [note.to_json() for note in ctx.notes.search(args["query"])]}


async def delete_note(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    if not ctx.notes.delete(args["id"]):
        raise ToolError(f"no note with id {args['id']!r}; search_notes lists the ids")
    await ctx.log("notice", {"event": "note deleted", "id": args["id"]})
    await ctx.resources_changed(INDEX_URI, NOTE_PREFIX + args["id"])
    return {"id": args["id"], "deleted": True}


async def slow_count(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Counts with a pause per step: the tool that shows progress and cancellation."""
    steps, delay = int(args["steps"]), float(args.get("delay", 0.1))
    await ctx.log("debug", {"event": "counting", "steps": steps, "delay": delay})
    for step in range(1, steps + 1):
        await ctx.sleep(delay)  # a cancelled request stops here: the driver cancels this task
        await ctx.progress(step, steps, f"counted {step} of {steps}")
    return {"counted": steps}


async def summarize(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Sampling: the server has no model of its own, so it asks the host's (which asks its user first)."""
    if not ctx.can_ask("sampling/createMessage"):  # say so before doing any work
        raise ToolError("summarize needs a client that answers sampling/createMessage "
                        "(capabilities.sampling)")
    found = ctx.notes.search(args["query"])
    if not found:
        raise ToolError(f"no note matches {args['query']!r}: nothing to summarize")
    listing = "\n".join(f"- {note.title}: {note.body}" for note in found)
    answer = await ctx.ask("sampling/createMessage", {
        "messages": [{"role": "user", "content": {"type": "text",
                                                  "text": f"Summarize these notes in one line:\n{listing}"}}],
        "systemPrompt": "You summarize short notes.", "includeContext": "none", "maxTokens": 60})
    content = answer.get("content") or {}
    if content.get("type") != "text" or not isinstance(content.get("text"), str):
        raise ToolError(f"the host's model answered no text: {content}")
    return {"summary": content["text"], "model": str(answer.get("model", "?"))}


# Elicitation's requestedSchema: a flat object of primitives (the spec allows nothing nested).
NOTE_FORM = {"type": "object", "required": ["title"], "properties": {
    "title": {"type": "string", "title": "Title", "minLength": 1, "maxLength": 200},
    "body": {"type": "string", "title": "Body", "maxLength": 10000, "default": ""}}}


async def ask_for_note(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Elicitation: the user, not the model, says what the note is; they may decline or cancel."""
    question = f"A new note, {args['why']}: what should it say?"
    answer = await ctx.ask("elicitation/create", {"message": question, "requestedSchema": NOTE_FORM})
    action = answer.get("action")
    if action not in ("accept", "decline", "cancel"):
        raise ToolError(f"the client answered elicitation with action {action!r}")
    if action != "accept":
        return {"action": action}  # the user said no (decline) or walked away (cancel): add nothing
    content = answer.get("content") or {}
    problems = validate(content, NOTE_FORM)  # the host should have checked; the server checks anyway
    if problems:
        raise ToolError("the user's answer does not fit the form: " + "; ".join(problems))
    note = ctx.notes.add(content["title"], content.get("body", ""))
    await ctx.resources_changed(INDEX_URI)
    return {"action": "accept", "id": note.id}


REMINDER_FORM = {"type": "object", "properties": {
    "keep": {"type": "boolean", "title": "Keep it as a note?", "default": True}}}


async def remind(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Background elicitation: answers now, asks the user later (no request of theirs is open then)."""
    if not ctx.can_ask("elicitation/create"):
        raise ToolError("remind needs a client that answers elicitation/create (capabilities.elicitation)")
    ctx.later(_remind_later(args["about"], float(args.get("after", 1)), ctx))
    return {"scheduled": True}


async def _remind_later(about: str, after: float, ctx: ToolContext) -> None:
    await ctx.sleep(after)
    try:
        answer = await ctx.ask("elicitation/create", {"message": f"Reminder: {about}. Keep it as a note?",
                                                      "requestedSchema": REMINDER_FORM})
    except ToolError as exc:  # nobody to ask, or no answer: the reminder is dropped, and said so
        await ctx.log("warning", {"event": "reminder dropped", "about": about, "why": str(exc)})
        return
    if answer.get("action") == "accept" and (answer.get("content") or {}).get("keep", True) is True:
        ctx.notes.add("Reminder", about)
        await ctx.resources_changed(INDEX_URI)


# A JSON Schema 2020-12 input schema, said so with $schema: a reusable part in $defs, reached by
# $ref, and a tuple (prefixItems: position 0 is the title, 1 the body; items: false, nothing more).
ADD_NOTES_INPUT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "$defs": {"note": {"type": "array", "description": "[title, body]", "minItems": 2, "items": False,
                       "prefixItems": [{"type": "string", "minLength": 1, "maxLength": 200},
                                       {"type": "string", "maxLength": 10000}]}},
    "properties": {"notes": {"type": "array", "minItems": 1, "maxItems": 50,
                             "items": {"$ref": "#/$defs/note"}}},
    "required": ["notes"], "additionalProperties": False}

TOOLS: dict[str, Tool] = {tool.name: tool for tool in [
    Tool("calculate", "Calculator",
         "Evaluate an arithmetic expression: + - * / // % ** and parentheses on numbers.",
         _object({"expression": {"type": "string", "minLength": 1, "maxLength": 200,
                                 "description": "for example (2 + 3) * 4"}}, ["expression"]),
         _object({"value": {"type": "number"}}, ["value"]), calculate,
         {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}),
    Tool("add_note", "Add a note", "Store a note; returns its id.",
         _object({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                  "body": {"type": "string", "maxLength": 10000}}, ["title", "body"]),
         _object({"id": {"type": "string"}}, ["id"]), add_note,
         {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False}),
    Tool("add_notes", "Add several notes",
         "Store several notes, each a [title, body] pair; returns their ids.", ADD_NOTES_INPUT,
         _object({"ids": {"type": "array", "items": {"type": "string"}}}, ["ids"]), add_notes,
         {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False}),
    Tool("search_notes", "Search notes",
         "Notes whose title or body contains the query (case-insensitive; empty matches all).",
         _object({"query": {"type": "string", "maxLength": 200}}, ["query"]),
         _object({"notes": {"type": "array", "items": NOTE_SCHEMA}}, ["notes"]), search_notes,
         {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}),
    Tool("delete_note", "Delete a note", "Delete the note with this id. Cannot be undone.",
         _object({"id": {"type": "string", "minLength": 1}}, ["id"]),
         _object({"id": {"type": "string"}, "deleted": {"type": "boolean"}}, ["id", "deleted"]), delete_note,
         {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": False}),
    Tool("slow_count", "Slow count",
         "Count to steps, pausing delay seconds per step; reports progress and can be cancelled.",
         _object({"steps": {"type": "integer", "minimum": 1, "maximum": 100},
                  "delay": {"type": "number", "minimum": 0, "maximum": 5}}, ["steps"]),
         _object({"counted": {"type": "integer"}}, ["counted"]), slow_count,
         {"readOnlyHint": True, "openWorldHint": False}),
    Tool("summarize", "Summarize notes",
         "Summarize the notes matching query, written by the client's model (sampling).",
         _object({"query": {"type": "string", "maxLength": 200}}, ["query"]),
         _object({"summary": {"type": "string"}, "model": {"type": "string"}}, ["summary", "model"]),
         summarize,
         {"readOnlyHint": True, "openWorldHint": False}),
    Tool("ask_for_note", "Ask the user for a note",
         "Ask the user (elicitation) to write a new note; they may decline or cancel.",
         _object({"why": {"type": "string", "minLength": 1, "maxLength": 200}}, ["why"]),
         {"type": "object", "required": ["action"], "additionalProperties": False,
          "properties": {"action": {"type": "string", "enum": ["accept", "decline", "cancel"]},
                         "id": {"type": "string"}}}, ask_for_note,
         {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False}),
    Tool("remind", "Remind me later",
         "After `after` seconds, remind the user (elicitation); keep the reminder as a note if they say so.",
         _object({"about": {"type": "string", "minLength": 1, "maxLength": 200},
                  "after": {"type": "number", "minimum": 0, "maximum": 60}}, ["about"]),
         _object({"scheduled": {"type": "boolean"}}, ["scheduled"]), remind,
         {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False}),
]}


def text_result(structured: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": json.dumps(structured)}], "structuredContent": structured,
            "isError": False}


def error_result(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


async def call_tool(params: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """``tools/call``: the CallToolResult for ``params`` (or a -32602 JsonRpcError)."""
    name, args = params.get("name"), params.get("arguments", {})
    if not isinstance(name, str):
        raise JsonRpcError(INVALID_PARAMS, "tools/call needs params.name (a string)")
    tool = TOOLS.get(name)
    if tool is None:
        raise JsonRpcError(INVALID_PARAMS, f"Unknown tool: {name}", {"known": sorted(TOOLS)})
    if not isinstance(args, dict):
        raise JsonRpcError(INVALID_PARAMS, "tools/call params.arguments must be an object")
    problems = validate(args, tool.input_schema)
    if problems:
        return error_result(f"invalid arguments for {name}: " + "; ".join(problems))
    try:
        structured = await tool.run(args, ctx)
    except ToolError as exc:
        return error_result(str(exc))
    problems = validate(structured, tool.output_schema)
    if problems:  # our bug, not the caller's: say so rather than send a result that breaks the schema
        return error_result(f"{name} produced output that breaks its outputSchema: " + "; ".join(problems))
    return text_result(structured)
