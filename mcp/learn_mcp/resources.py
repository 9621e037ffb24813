"""Resources: the notes as readable documents with URIs, and a URI template for any note.

Reading order: ... -> tools / **resources** / prompts -> server_core -> transports -> server.

Spec: 2025-11-25 and 2026-07-28 server/resources.

- ``resources/list``: ``notes://index`` (a Markdown list of all notes) and one
  ``notes://<id>`` per note;
- ``resources/templates/list``: the RFC 6570 template ``notes://{id}``, so a
  client can build URIs for notes it has not listed;
- ``resources/read``: the contents of one URI;
- ``resources/subscribe`` / ``unsubscribe`` (2025-11-25 only) are in server_core: they
  need the connection's state, and a URI may be watched only if it can be read here.

A URI we do not have is "resource not found": -32002 in 2025-11-25 and
earlier, -32602 (Invalid Params) from 2026-07-28 on (changelog, minor change 6),
so the code depends on the revision the request speaks.
"""

from __future__ import annotations

import json
from typing import Any

from .jsonrpc import INVALID_PARAMS, RESOURCE_NOT_FOUND_LEGACY, JsonRpcError
from .notes import NoteBook

INDEX_URI = "notes://index"
NOTE_TEMPLATE = "notes://{id}"
NOTE_PREFIX = "notes://"


def list_resources(notes: NoteBook) -> dict[str, Any]:
    entries = [{"uri": INDEX_URI, "name": "index", "title": "All notes",
                "description": "A Markdown list of every note", "mimeType": "text/markdown"}]
    entries += [{"uri": NOTE_PREFIX + n.id, "name": n.id, "title": n.title, "mimeType": "application/json"}
                for n in notes.all()]
    return {"resources": entries}


def list_templates() -> dict[str, Any]:
    return {"resourceTemplates": [{"uriTemplate": NOTE_TEMPLATE, "name": "note", "title": "One note by id",
                                   "description": "A note as JSON: id, title, body",
                                   "mimeType": "application/json"}]}


def index_markdown(notes: NoteBook) -> str:
    lines = ["# Notes", ""] + [f"- [{n.title}]({NOTE_PREFIX}{n.id})" for n in notes.all()]
    return "\n".join(lines if notes.all() else lines + ["(no notes yet)"]) + "\n"


def read_resource(notes: NoteBook, params: dict[str, Any], modern: bool) -> dict[str, Any]:
    uri = params.get("uri")
    if not isinstance(uri, str):
        raise JsonRpcError(INVALID_PARAMS, "resources/read needs params.uri (a string)")
    if uri == INDEX_URI:
        return {"contents": [{"uri": uri, "mimeType": "text/markdown", "text": index_markdown(notes)}]}
    note = notes.get(uri[len(NOTE_PREFIX):]) if uri.startswith(NOTE_PREFIX) else None
    if note is None:
        code = INVALID_PARAMS if modern else RESOURCE_NOT_FOUND_LEGACY
        raise JsonRpcError(code, f"Resource not found: {uri}", {"uri": uri})
    return {"contents": [{"uri": uri, "mimeType": "application/json", "text": json.dumps(note.to_json())}]}
