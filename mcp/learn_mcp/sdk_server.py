"""The same notes-and-calculator server, written with the official SDK's ``MCPServer``.

Reading order: read it beside ``server.py`` (the hand-rolled server), after the client:
it is what the library does for you, and the peer our hand-written client is tested
against ("our client against an MCPServer-based server").

Same tool names and schemas as the hand-rolled server (see ``tools.py``): ``calculate``,
``add_note``, ``add_notes`` (a tuple type, which pydantic writes as ``prefixItems``),
``search_notes``, ``delete_note`` (annotated ``destructiveHint: true``) and
``slow_count`` (progress and cancellation), plus the ``notes://index`` and
``notes://{id}`` resources.  Of the hand-rolled server's asking tools it has
``ask_for_note``, written the 2026-07-28 way (it returns ``InputRequiredResult``
and reads ``ctx.input_responses`` on the retry), and ``delete_note`` publishes
``notes://{id}`` to ``subscriptions/listen`` streams (the SDK serves no
``resources/subscribe``).  The SDK derives each input schema from the Python
signature and each output schema from the return type; it answers ``server/discover``
(2026-07-28) as well as ``initialize`` (2025-11-25): a dual-era server.

    python -m learn_mcp.sdk_server --transport stdio
    python -m learn_mcp.sdk_server --transport http [--host 127.0.0.1] [--port 8932] [--loop auto] [-v | -q]

The options are every wirelab server's (``wirelab_common.server_cli``; ``--port 0``:
any free port).  Over HTTP it runs the SDK's Starlette app on uvicorn with wirelab's
ready line (``= sdk      listening on http://HOST:PORT``, on stdout) and a clean exit
on SIGTERM (``wirelab_common.asgi_server``); ``-v`` adds the endpoint under it.  Over
stdio stdout belongs to JSON-RPC and nothing else may go on it, so the ready line
(``= sdk      listening on stdio``) goes to stderr, as the hand-rolled server's does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ToolAnnotations,
)

# pydantic (which the SDK uses for schemas) needs typing_extensions' TypedDict on Python < 3.12.
from typing_extensions import TypedDict

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

from .calculator import CalcError, evaluate


class Value(TypedDict):
    value: float


class NoteId(TypedDict):
    id: str


class NoteIds(TypedDict):
    ids: list[str]


class Note(TypedDict):
    id: str
    title: str
    body: str


class Notes(TypedDict):
    notes: list[Note]


class Deleted(TypedDict):
    id: str
    deleted: bool


class Counted(TypedDict):
    counted: int


class Asked(TypedDict, total=False):
    action: str
    id: str


NOTE_FORM = {"type": "object", "required": ["title"], "properties": {
    "title": {"type": "string", "title": "Title", "minLength": 1, "maxLength": 200},
    "body": {"type": "string", "title": "Body", "maxLength": 10000, "default": ""}}}


READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)


def build_server() -> MCPServer:
    """A fresh server with an empty notebook (one per process)."""
    server = MCPServer("wirelab-sdk-notes", version="1.0",
                       instructions="Notes and a calculator, built on the official SDK.", log_level="WARNING")
    notes: dict[str, Note] = {}
    ids = itertools.count(1)

    @server.tool(annotations=READ_ONLY)
    def calculate(expression: str) -> Value:
        """Evaluate an arithmetic expression: + - * / // % ** and parentheses on numbers."""
        try:
            return {"value": evaluate(expression)}
        except CalcError as exc:
            raise ToolError(f"cannot calculate {expression!r}: {exc}") from None

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False))
    def add_note(title: str, body: str) -> NoteId:
        """Store a note; returns its id."""
        note_id = str(next(ids))
        notes[note_id] = {"id": note_id, "title": title, "body": body}
        return {"id": note_id}

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False))
    def add_notes(notes: list[tuple[str, str]]) -> NoteIds:
        """Store several notes, each a [title, body] pair; returns their ids."""
        return {"ids": [add_note(title, body)["id"] for title, body in notes]}  # pydantic: prefixItems

    @server.tool(annotations=READ_ONLY)
    def search_notes(query: str) -> Notes:
        """Notes whose title or body contains the query (case-insensitive; empty matches all)."""
        q = query.lower()
        return {"notes": [n for n in notes.values() if q in n["title"].lower() or q in n["body"].lower()]}

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True,
                                             openWorldHint=False))
    async def delete_note(id: str, ctx: Context) -> Deleted:
        """Delete the note with this id. Cannot be undone."""
        if notes.pop(id, None) is None:
            raise ToolError(f"no note with id {id!r}; search_notes lists the ids")
        # 2026-07-28: to subscriptions/listen streams (the SDK serves no legacy resources/subscribe)
        await ctx.notify_resources_changed()
        await ctx.notify_resource_updated(f"notes://{id}")
        return {"id": id, "deleted": True}

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False))
    def ask_for_note(why: str, ctx: Context) -> Asked | InputRequiredResult:
        """Ask the user (elicitation) to write a new note; they may decline or cancel."""
        answer = (ctx.input_responses or {}).get("note")
        if not isinstance(answer, ElicitResult):  # round one (2026-07-28 MRTR): ask, and be called again
            form = ElicitRequestFormParams(message=f"A new note, {why}: what should it say?",
                                           requested_schema=NOTE_FORM)
            return InputRequiredResult(input_requests={"note": ElicitRequest(params=form)})
        if answer.action != "accept" or not answer.content:
            return {"action": answer.action}
        return {"action": "accept", "id": add_note(str(answer.content["title"]),
                                                    str(answer.content.get("body", "")))["id"]}

    @server.tool(annotations=READ_ONLY)
    async def slow_count(steps: int, ctx: Context, delay: float = 0.1) -> Counted:
        """Count to steps, pausing delay seconds per step; reports progress and can be cancelled."""
        for step in range(1, steps + 1):
            await asyncio.sleep(delay)  # the SDK cancels this task on notifications/cancelled
            await ctx.report_progress(step, steps, f"counted {step} of {steps}")
        return {"counted": steps}

    @server.resource("notes://index", mime_type="application/json")
    def index() -> list[NoteId]:
        """The ids of all notes."""
        return [{"id": n} for n in notes]

    @server.resource("notes://{id}", mime_type="application/json")
    def note(id: str) -> Note:
        """One note."""
        return notes[id]

    return server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_mcp.sdk_server",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    add_server_options(parser, port=8932)  # --host --port --loop -v -q (--loop: http only)
    return parser.parse_args(argv)


async def serve_http(args: argparse.Namespace) -> None:
    host, port = args.host, args.port
    trace = Trace("sdk", verbose=args.verbose, stream=sys.stdout, quiet=args.quiet)
    ensure_port_free(host, port)
    # host= lets the SDK turn on its DNS-rebinding protection for loopback Host/Origin values.
    app = build_server().streamable_http_app(host=host)
    server = TracedServer(config(app, host, port), trace, lambda h, p: [f"MCP endpoint http://{h}:{p}/mcp"])
    await server.serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.transport == "stdio":
        server = build_server()
        announce(Trace("sdk", stream=sys.stderr, quiet=args.quiet), "stdio")
        server.run("stdio")  # stdout is the JSON-RPC channel from here on
    else:
        run_server(lambda: serve_http(args), args.loop)


if __name__ == "__main__":
    main()
