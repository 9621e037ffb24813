"""Completion: suggestions for a prompt argument or a resource-template variable, as the user types.

Reading order: ... -> tools / resources / prompts / **completion** -> server_core -> transports.

Spec: 2025-11-25 and 2026-07-28 server/utilities/completion.  A client sends
``completion/complete`` with a reference (``ref/prompt`` by name, or
``ref/resource`` by URI template), the argument being typed (name and value so
far) and, optionally, the values of arguments already chosen
(``context.arguments``).  The server answers at most 100 ``values``, with
``total`` and ``hasMore`` saying whether there were more.  A server that
answers declares the ``completions`` capability.

Here: the prompt ``summarize_notes`` completes ``style`` from its fixed choices
and ``query`` from words in the notes; the template ``notes://{id}`` completes
``id`` from the note ids.  Matching is by prefix, case-insensitive.  An unknown
prompt, template or argument is -32602 (Invalid Params).
"""

from __future__ import annotations

import re
from typing import Any

from .jsonrpc import INVALID_PARAMS, JsonRpcError
from .notes import NoteBook
from .prompts import STYLES
from .resources import NOTE_TEMPLATE

MAX_VALUES = 100  # the spec's cap on one answer


def answer(candidates: list[str], typed: str) -> dict[str, Any]:
    """The result for ``typed``: candidates starting with it, at most MAX_VALUES of them."""
    prefix = typed.casefold()
    matching = [c for c in dict.fromkeys(candidates) if c.casefold().startswith(prefix)]
    return {"completion": {"values": matching[:MAX_VALUES], "total": len(matching),
                           "hasMore": len(matching) > MAX_VALUES}}


def read_request(params: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(ref, argument name, value typed so far), or -32602 if the request is malformed."""
    ref, argument = params.get("ref"), params.get("argument")
    if not isinstance(ref, dict) or ref.get("type") not in ("ref/prompt", "ref/resource"):
        raise JsonRpcError(INVALID_PARAMS, "completion/complete needs ref of type ref/prompt or ref/resource")
    if not isinstance(argument, dict) or not isinstance(argument.get("name"), str) \
            or not isinstance(argument.get("value"), str):
        raise JsonRpcError(INVALID_PARAMS, "completion/complete needs argument {name, value} (strings)")
    return ref, argument["name"], argument["value"]


def words(notes: NoteBook) -> list[str]:
    return sorted({w.casefold() for n in notes.all() for w in re.findall(r"\w{3,}", f"{n.title} {n.body}")})


def complete(notes: NoteBook, params: dict[str, Any]) -> dict[str, Any]:
    ref, name, typed = read_request(params)
    if ref["type"] == "ref/prompt":
        if ref.get("name") != "summarize_notes":
            raise JsonRpcError(INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
        if name == "style":
            return answer(list(STYLES), typed)
        if name == "query":
            return answer(words(notes), typed)
    else:
        if ref.get("uri") != NOTE_TEMPLATE:
            raise JsonRpcError(INVALID_PARAMS, f"Unknown resource template: {ref.get('uri')}")
        if name == "id":
            return answer([n.id for n in notes.all()], typed)
    raise JsonRpcError(INVALID_PARAMS, f"No argument {name!r} to complete for this reference")
