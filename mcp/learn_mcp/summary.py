"""One trace line per JSON-RPC message, the same words on both ends of the wire.

Reading order: ... -> jsonrpc -> **summary** -> (used by every transport's trace, host and server).

The host and the server print the same message the same way (``#3 tools/call calculate
{"expression":"6*7"}``), so a trace read side by side, or the viewer's diagram, shows
one message once; the full JSON is the line's detail (``-v``).
"""

from __future__ import annotations

import json
from typing import Any

from .jsonrpc import ErrorResponse, Message, Notification, Request, Response

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"  # _meta key, as in lifecycle.py


def describe(message: Message) -> str:
    """One trace line for a JSON-RPC message, either direction."""
    ident = f"#{message.id} " if isinstance(message, Request | Response | ErrorResponse) else ""
    if isinstance(message, Request | Notification):
        params, method = message.params, message.method
        if method == "tools/call":
            return f"{ident}tools/call {params.get('name')} {_compact(params.get('arguments', {}))}"
        if method == "notifications/progress":
            total = f"/{params['total']:g}" if isinstance(params.get("total"), int | float) else ""
            text = f" {params['message']!r}" if params.get("message") else ""
            return f"notifications/progress {params.get('progress', 0):g}{total}{text}"
        if method == "notifications/cancelled":
            return f"notifications/cancelled #{params.get('requestId')} ({params.get('reason', '')})"
        if method == "notifications/message":
            return f"notifications/message [{params.get('level')}] {_compact(params.get('data'))}"
        if method == "initialize":
            return f"{ident}initialize protocolVersion={params.get('protocolVersion')}"
        if method == "elicitation/create":
            return f"{ident}elicitation/create {_compact(params.get('message'))}"
        if isinstance(params.get("uri"), str):  # resources/read, subscribe, unsubscribe, updated
            return f"{ident}{method} {params['uri']}"
        version = (params.get("_meta") or {}).get(META_PROTOCOL_VERSION)
        return f"{ident}{method}" + (f" (_meta version {version})" if version else "")
    if isinstance(message, ErrorResponse):
        return f"{ident}error {message.error.code} {message.error.message}"
    return f"{ident}result {_compact(message.result, 90)}"


def _compact(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."
