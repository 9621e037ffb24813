"""Prompts: message templates a user picks (a slash command), filled in by the server.

Reading order: ... -> tools / resources / **prompts** -> server_core -> transports -> server.

Spec: 2025-11-25 and 2026-07-28 server/prompts.  ``prompts/list`` names each
prompt and its arguments; ``prompts/get`` returns the messages with the
arguments filled in.  Here the one prompt, ``summarize_notes``, embeds the
matching notes as a resource in the message, so the model reads them directly.
An unknown prompt or a missing required argument is -32602 (§Error Handling).
"""

from __future__ import annotations

import json
from typing import Any

from .jsonrpc import INVALID_PARAMS, JsonRpcError
from .notes import NoteBook
from .resources import NOTE_PREFIX

STYLES = ("short", "bullets", "detailed")

PROMPTS = [{
    "name": "summarize_notes", "title": "Summarize notes",
    "description": "Ask the model to summarize the notes that match a query.",
    "arguments": [
        {"name": "query", "description": "only notes containing this text (empty: all)", "required": False},
        {"name": "style", "description": f"one of {', '.join(STYLES)}", "required": True},
    ],
}]


def list_prompts() -> dict[str, Any]:
    return {"prompts": PROMPTS}


def get_prompt(notes: NoteBook, params: dict[str, Any]) -> dict[str, Any]:
    name, args = params.get("name"), params.get("arguments") or {}
    if name != "summarize_notes":
        raise JsonRpcError(INVALID_PARAMS, f"Unknown prompt: {name}", {"known": [p["name"] for p in PROMPTS]})
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        raise JsonRpcError(INVALID_PARAMS, "prompts/get arguments must map names to strings")
    style = args.get("style")
    if style not in STYLES:
        raise JsonRpcError(INVALID_PARAMS, f"argument style is required: one of {', '.join(STYLES)}")
    query = args.get("query", "")
    matching = notes.search(query)
    ask = (f"Summarize these {len(matching)} notes"
           + (f" about {query!r}" if query else "") + f" in a {style} style.")
    messages = [{"role": "user", "content": {"type": "text", "text": ask}}]
    messages += [{"role": "user", "content": {"type": "resource", "resource": {
        "uri": NOTE_PREFIX + n.id, "mimeType": "application/json", "text": json.dumps(n.to_json())}}}
        for n in matching]
    return {"description": f"Summary of notes matching {query!r}", "messages": messages}
