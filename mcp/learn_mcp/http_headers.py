"""The 2026-07-28 request headers that mirror the body, checked without I/O.

Reading order: ... -> server_core -> stdio_transport / sessions + **http_headers** +
http_transport -> server.

A 2026-07-28 client repeats parts of each POST's body in headers, so that a proxy
or a load balancer can route a request without parsing JSON
(transports/streamable-http §Standard Request Headers):

- ``MCP-Protocol-Version``: the ``_meta`` protocol version;
- ``Mcp-Method``: the method;
- ``Mcp-Name``: ``params.name`` (``tools/call``, ``prompts/get``) or ``params.uri``
  (``resources/read``); a value that is not plain ASCII travels as
  ``=?base64?<b64>?=`` (§Value Encoding).

The server MUST reject a request whose headers and body disagree (§Server
Validation): an intermediary may have acted on the headers, so a mismatch is
refused with -32020 HeaderMismatch, never quietly corrected.  The host's side of
the same rules is ``host/client_http.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from .jsonrpc import HEADER_MISMATCH, JsonRpcError, Request
from .lifecycle import META_PROTOCOL_VERSION

# The body field Mcp-Name mirrors, per method.
NAME_FIELDS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def decode_header(value: str | None) -> str | None:
    """An ``Mcp-Name`` value as text: plain, or ``=?base64?<b64>?=`` (None if that is malformed)."""
    if value and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    return value


def check_headers(headers: Mapping[str, str], request: Request) -> None:
    """Raise -32020 naming every header that does not match the body (keys in lower case)."""
    meta = request.params.get("_meta")
    body_version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
    problems = []
    if headers.get("mcp-protocol-version") != body_version:
        problems.append(f"MCP-Protocol-Version {headers.get('mcp-protocol-version')!r} "
                        f"does not match _meta {body_version!r}")
    if headers.get("mcp-method") != request.method:
        problems.append(f"Mcp-Method {headers.get('mcp-method')!r} does not match method {request.method!r}")
    name_field = NAME_FIELDS.get(request.method)
    if name_field and decode_header(headers.get("mcp-name")) != request.params.get(name_field):
        problems.append(f"Mcp-Name {headers.get('mcp-name')!r} does not match params.{name_field}")
    if problems:
        raise JsonRpcError(HEADER_MISMATCH, "Header mismatch: " + "; ".join(problems))
