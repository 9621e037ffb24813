"""JSON-RPC 2.0 codec: the spec's message shapes, MCP's narrowing, and every standard error code."""

from __future__ import annotations

import json

import pytest

from learn_mcp.jsonrpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorObject,
    ErrorResponse,
    JsonRpcError,
    Notification,
    Request,
    Response,
    parse,
    serialize,
)

pytestmark = pytest.mark.pure


def test_request_with_params_parses():
    message = parse(b'{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42}, "id": 1}')
    assert message == Request(1, "subtract", {"minuend": 42})


def test_message_without_id_is_a_notification():
    assert parse('{"jsonrpc": "2.0", "method": "notifications/initialized"}') == \
        Notification("notifications/initialized")


def test_response_and_error_response_parse():
    assert parse('{"jsonrpc": "2.0", "id": "a", "result": {"x": 1}}') == Response("a", {"x": 1})
    assert parse('{"jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "nope"}}') == \
        ErrorResponse(3, ErrorObject(-32601, "nope"))


def test_invalid_json_is_a_parse_error_with_null_id():
    with pytest.raises(JsonRpcError) as info:
        parse(b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert info.value.code == PARSE_ERROR
    assert json.loads(serialize(info.value.to_response()))["id"] is None


def test_invalid_utf8_is_a_parse_error():
    with pytest.raises(JsonRpcError) as info:
        parse(b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}')
    assert info.value.code == PARSE_ERROR


@pytest.mark.parametrize("text", [
    '{"jsonrpc": "2.0", "method": 1, "params": "bar"}',  # method not a string
    '{"jsonrpc": "1.0", "id": 1, "method": "ping"}',  # wrong version
    '{"id": 1, "method": "ping"}',  # no version
    '{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1, 2]}',  # MCP: params is an object
    '{"jsonrpc": "2.0", "id": null, "method": "ping"}',  # MCP: ids are never null
    '{"jsonrpc": "2.0", "id": true, "method": "ping"}',
    '{"jsonrpc": "2.0", "id": 1}',  # neither request nor response
    '"just a string"',
    '1',
])
def test_non_jsonrpc_values_are_invalid_requests(text):
    with pytest.raises(JsonRpcError) as info:
        parse(text)
    assert info.value.code == INVALID_REQUEST


def test_invalid_request_reports_the_id_when_it_was_readable():
    with pytest.raises(JsonRpcError) as info:
        parse('{"jsonrpc": "1.0", "id": 7, "method": "ping"}')
    assert info.value.to_response().id == 7


@pytest.mark.parametrize("text", ['[]', '[{"jsonrpc": "2.0", "method": "ping", "id": 1}]'])
def test_batches_are_refused_since_2025_06_18(text):
    with pytest.raises(JsonRpcError) as info:
        parse(text)
    assert info.value.code == INVALID_REQUEST
    assert "batch" in info.value.message


def test_serialize_is_compact_and_has_no_newline_for_stdio_framing():
    data = serialize(Request(1, "tools/call", {"name": "add_note", "arguments": {"body": "line1\nline2"}}))
    assert b"\n" not in data
    assert json.loads(data)["params"]["arguments"]["body"] == "line1\nline2"


def test_serialize_round_trips_every_shape():
    for message in [Request("r", "ping"), Notification("notifications/progress", {"progress": 1}),
                    Response(2, {}), ErrorResponse(3, ErrorObject(-32602, "bad", {"field": "x"}))]:
        assert parse(serialize(message)) == message


def test_empty_params_are_omitted():
    assert json.loads(serialize(Request(1, "ping"))) == {"jsonrpc": "2.0", "id": 1, "method": "ping"}
