"""JSON-RPC 2.0: the four message shapes MCP is made of, parsed and serialized.

Reading order: **jsonrpc** -> lifecycle -> notes / calculator / schema -> tools / resources /
prompts -> server_core -> stdio_transport / sessions + http_transport -> server.

MCP sends nothing but JSON-RPC 2.0 messages (https://www.jsonrpc.org/specification;
MCP 2025-11-25 "Base Protocol" §Messages, 2026-07-28 "Overview" §Messages):

    request       {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {...}}
    notification  {"jsonrpc": "2.0", "method": "notifications/progress", "params": {...}}
    response      {"jsonrpc": "2.0", "id": 1, "result": {...}}
    error         {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "..."}}

MCP narrows plain JSON-RPC in three ways this module enforces: ids are strings
or integers, never null (a null id only appears on an error answering a message
whose id could not be read); params, when present, is an object; and there is
no batching: revision 2025-06-18 removed JSON arrays of messages, so an array
is an Invalid Request (-32600) that says so.

Everything here is pure: bytes in, a message (or a :class:`JsonRpcError` that
already knows its error code) out.  No I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSONRPC_VERSION = "2.0"

# JSON-RPC 2.0 §5.1: the standard error codes.
PARSE_ERROR = -32700  # not JSON at all
INVALID_REQUEST = -32600  # JSON, but not a JSON-RPC message
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# MCP's own codes (2026-07-28 "Overview" §Error Codes: -32020..-32099 is MCP's).
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
RESOURCE_NOT_FOUND_LEGACY = -32002  # 2025-11-25 resources §Error Handling; 2026 uses -32602

RequestId = str | int


@dataclass(frozen=True, slots=True)
class Request:
    """A call that expects exactly one Response or ErrorResponse with the same id."""

    id: RequestId
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A one-way message: the receiver MUST NOT answer it."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    id: RequestId
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorObject:
    code: int
    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    id: RequestId | None  # None only when the offending message's id was unreadable
    error: ErrorObject


Message = Request | Notification | Response | ErrorResponse


class JsonRpcError(Exception):
    """Raised by handlers and the parser: becomes an ErrorResponse with this code."""

    def __init__(self, code: int, message: str, data: Any = None, id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.id = id

    def to_response(self, id: RequestId | None = None) -> ErrorResponse:
        return ErrorResponse(self.id if id is None else id, ErrorObject(self.code, self.message, self.data))


def _valid_id(value: Any) -> bool:
    # bool is an int subclass in Python; JSON true is not a valid id.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def parse(data: bytes | str) -> Message:
    """One JSON-RPC message from ``data``; raises JsonRpcError(-32700 / -32600) if it is not one."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonRpcError(PARSE_ERROR, f"Parse error: {exc}") from None
    return from_object(obj)


def from_object(obj: Any) -> Message:
    """Classify an already-decoded JSON value (the stdio and HTTP drivers both end up here)."""
    if isinstance(obj, list):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not supported "
                           "(MCP removed batching in 2025-06-18); send one message at a time")
    if not isinstance(obj, dict):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    msg_id = obj.get("id")
    # Report the id back whenever it was readable, so the sender can correlate the error.
    readable_id = msg_id if _valid_id(msg_id) else None
    if obj.get("jsonrpc") != JSONRPC_VERSION:
        raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', id=readable_id)
    if "method" in obj:
        method, params = obj["method"], obj.get("params", {})
        if not isinstance(method, str):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "method" must be a string', id=readable_id)
        if not isinstance(params, dict):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "params" must be an object',
                               id=readable_id)
        if "id" not in obj:
            return Notification(method, params)
        if not _valid_id(msg_id):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
        return Request(msg_id, method, params)
    if "result" in obj and "error" not in obj and _valid_id(msg_id) and isinstance(obj["result"], dict):
        return Response(msg_id, obj["result"])
    if "error" in obj and "result" not in obj and isinstance(obj["error"], dict):
        err = obj["error"]
        if isinstance(err.get("code"), int) and isinstance(err.get("message"), str):
            return ErrorResponse(readable_id, ErrorObject(err["code"], err["message"], err.get("data")))
    raise JsonRpcError(INVALID_REQUEST, "Invalid Request: neither a request, a notification nor a response",
                       id=readable_id)


def to_object(message: Message) -> dict[str, Any]:
    """The JSON object for ``message`` (``params`` omitted when empty, as most peers do)."""
    if isinstance(message, Request):
        obj: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "id": message.id, "method": message.method}
        if message.params:
            obj["params"] = message.params
        return obj
    if isinstance(message, Notification):
        obj = {"jsonrpc": JSONRPC_VERSION, "method": message.method}
        if message.params:
            obj["params"] = message.params
        return obj
    if isinstance(message, Response):
        return {"jsonrpc": JSONRPC_VERSION, "id": message.id, "result": message.result}
    error: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
    if message.error.data is not None:
        error["data"] = message.error.data
    return {"jsonrpc": JSONRPC_VERSION, "id": message.id, "error": error}


def serialize(message: Message) -> bytes:
    """Compact UTF-8 JSON with no newline inside: the stdio framing relies on that."""
    return json.dumps(to_object(message), separators=(",", ":"), ensure_ascii=False).encode()


def error_response(id: RequestId | None, code: int, message: str, data: Any = None) -> ErrorResponse:
    return ErrorResponse(id, ErrorObject(code, message, data))


def correlation_id(message: Message) -> str | None:
    """The id a trace event carries (``cid``): the request's own, or the one a message is about.

    A response carries its request's id; ``notifications/cancelled`` names the request it
    cancels; any other notification belongs to no request and has none.
    """
    if isinstance(message, Request | Response | ErrorResponse):
        return None if message.id is None else str(message.id)
    request_id = message.params.get("requestId") if message.method == "notifications/cancelled" else None
    return None if request_id is None else str(request_id)
