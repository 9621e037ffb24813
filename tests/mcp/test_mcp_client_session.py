"""The host's negotiation as a state machine, and the HTTP header rules: pure, no server."""

from __future__ import annotations

import itertools

import pytest

from learn_mcp.host.client_http import SseParser, header_value, param_headers, request_headers
from learn_mcp.host.client_session import (
    LEGACY,
    META_VERSION,
    MODERN,
    ClientSession,
    Phase,
    ProtocolError,
    RemoteError,
    VersionMismatch,
    cancelled_notification,
    classify,
    result_of,
)
from learn_mcp.jsonrpc import ErrorObject, ErrorResponse, Notification, Request, Response
from learn_mcp.summary import describe
from wirelab_common.state_table import BadTransition

pytestmark = pytest.mark.pure


def session(*versions: str) -> ClientSession:
    return ClientSession(versions=versions or (MODERN, LEGACY), ids=itertools.count(1))


def error(code: int, data: object = None) -> ErrorResponse:
    return ErrorResponse(1, ErrorObject(code, "no", data))


def test_the_first_message_is_a_discover_probe_at_the_newest_version():
    probe = session().open()
    assert probe.method == "server/discover" and probe.id == 1
    assert probe.params["_meta"][META_VERSION] == MODERN
    assert probe.params["_meta"]["io.modelcontextprotocol/clientInfo"]["name"] == "wirelab-host"


def test_a_discover_result_makes_the_session_modern_without_a_handshake():
    s = session()
    s.open()
    reply = Response(1, {"supportedVersions": [MODERN, LEGACY], "capabilities": {"tools": {}},
                         "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "srv"}}})
    assert s.on_discover(reply) is None
    assert s.phase is Phase.READY and s.version == MODERN and s.modern
    assert s.server_info == {"name": "srv"} and s.capabilities == {"tools": {}}


@pytest.mark.parametrize("reply", [error(-32601), error(-32602), error(-32000), None],
                         ids=["method-not-found", "invalid-params", "http-400-no-body", "silence"])
def test_any_other_answer_to_the_probe_falls_back_to_initialize(reply):
    s = session()
    s.open()
    nxt = s.on_discover(reply)
    assert s.phase is Phase.INITIALIZING
    assert nxt is not None and nxt.method == "initialize" and nxt.params["protocolVersion"] == LEGACY


def test_a_discover_result_offering_only_old_versions_is_a_legacy_server():
    s = session()
    s.open()
    nxt = s.on_discover(Response(1, {"supportedVersions": [LEGACY]}))
    assert nxt is not None and nxt.method == "initialize"


def test_unsupported_version_naming_a_legacy_version_leads_to_initialize():
    s = session()
    s.open()
    nxt = s.on_discover(error(-32022, {"supported": [LEGACY], "requested": MODERN}))
    assert nxt is not None and nxt.method == "initialize"


def test_unsupported_version_with_nothing_in_common_is_a_mismatch():
    s = session()
    s.open()
    with pytest.raises(VersionMismatch):
        s.on_discover(error(-32022, {"supported": ["2099-01-01"], "requested": MODERN}))


def test_a_header_mismatch_is_our_bug_not_a_reason_to_fall_back():
    s = session()
    s.open()
    with pytest.raises(ProtocolError, match="-32020"):
        s.on_discover(error(-32020))


def test_a_modern_only_host_does_not_fall_back():
    s = session(MODERN)
    s.open()
    with pytest.raises(VersionMismatch):
        s.on_discover(error(-32601))


def test_a_legacy_only_host_starts_with_initialize_and_finishes_with_initialized():
    s = session(LEGACY)
    first = s.open()
    assert first.method == "initialize" and s.phase is Phase.INITIALIZING
    done = s.on_initialize(Response(first.id, {"protocolVersion": LEGACY, "capabilities": {},
                                               "serverInfo": {"name": "old"}}))
    assert done == Notification("notifications/initialized")
    assert s.phase is Phase.READY and s.version == LEGACY and not s.modern


def test_a_server_choosing_a_version_we_do_not_speak_is_refused():
    s = session(LEGACY)
    s.open()
    with pytest.raises(VersionMismatch):
        s.on_initialize(Response(1, {"protocolVersion": "2024-11-05", "capabilities": {}}))


def test_requests_wait_for_the_session_to_be_ready():
    with pytest.raises(BadTransition, match=r"'request' is not allowed in state NEW \(expected: probe"):
        session().request("tools/list")


def test_a_transition_the_table_does_not_allow_names_what_was_expected():
    s = session()
    s.open()
    s.on_discover(None)  # fell back: now INITIALIZING
    with pytest.raises(BadTransition, match="'modern' is not allowed in state INITIALIZING"):
        s.on_discover(Response(1, {"supportedVersions": [MODERN]}))


def test_modern_requests_carry_the_meta_envelope_and_legacy_ones_do_not():
    modern = session()
    modern.open()
    modern.on_discover(Response(1, {"supportedVersions": [MODERN]}))
    call = modern.request("tools/call", {"name": "calculate", "arguments": {}}, progress_token="p1")
    assert call.params["_meta"][META_VERSION] == MODERN and call.params["_meta"]["progressToken"] == "p1"
    legacy = session(LEGACY)
    legacy.open()
    legacy.on_initialize(Response(1, {"protocolVersion": LEGACY}))
    call = legacy.request("tools/call", {"name": "calculate", "arguments": {}}, progress_token="p2")
    assert call.params["_meta"] == {"progressToken": "p2"}


def test_results_without_result_type_count_as_complete_and_input_required_is_refused():
    assert result_of(Response(1, {"tools": []})) == {"tools": []}
    with pytest.raises(ProtocolError, match="input_required"):
        result_of(Response(1, {"resultType": "input_required", "inputRequests": {}}))
    with pytest.raises(RemoteError) as info:
        result_of(error(-32602))
    assert info.value.code == -32602


def test_classify_and_describe_name_each_kind_of_message():
    progress = classify({"jsonrpc": "2.0", "method": "notifications/progress",
                         "params": {"progressToken": "p", "progress": 2, "total": 5, "message": "two"}})
    assert describe(progress) == "notifications/progress 2/5 'two'"
    assert describe(cancelled_notification(7, "bored")) == "notifications/cancelled #7 (bored)"
    assert describe(Request(3, "tools/call", {"name": "calculate", "arguments": {"expression": "1"}})) == \
        '#3 tools/call calculate {"expression":"1"}'
    with pytest.raises(ProtocolError):
        classify({"jsonrpc": "1.0", "id": 1, "result": {}})


# -- Streamable HTTP headers (2026-07-28 transports/streamable-http) ---------------------------


@pytest.mark.parametrize("value, expected", [
    ("us-west1", "us-west1"),
    ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
    (" padded ", "=?base64?IHBhZGRlZCA=?="),
    ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
    ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    (42, "42"),
    (True, "true"),
])
def test_header_values_are_encoded_as_the_spec_table_shows(value, expected):
    assert header_value(value) == expected


def test_a_modern_tools_call_mirrors_method_name_and_marked_arguments():
    schema = {"properties": {"region": {"type": "string", "x-mcp-header": "Region"},
                             "query": {"type": "string"}}}
    body = Request(1, "tools/call", {"name": "execute_sql", "arguments": {"region": "us-west1", "query": "x"},
                                     "_meta": {META_VERSION: MODERN}})
    headers = request_headers(body, tool_schema=schema)
    assert headers["MCP-Protocol-Version"] == MODERN
    assert headers["Mcp-Method"] == "tools/call" and headers["Mcp-Name"] == "execute_sql"
    assert headers["Mcp-Param-Region"] == "us-west1" and "Mcp-Param-Query" not in headers
    assert "Mcp-Session-Id" not in headers and "text/event-stream" in headers["Accept"]


def test_an_absent_marked_argument_sends_no_header():
    schema = {"properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}
    assert param_headers(schema, {}) == {} and param_headers(schema, {"region": None}) == {}


def test_legacy_posts_carry_the_session_id_and_the_negotiated_version():
    body = Request(5, "tools/list", {})
    headers = request_headers(body, legacy_version=LEGACY, session_id="abc")
    assert headers["MCP-Protocol-Version"] == LEGACY and headers["Mcp-Session-Id"] == "abc"
    assert "Mcp-Method" not in headers


def test_the_sse_parser_joins_data_lines_and_skips_comments_and_other_fields():
    parser = SseParser()
    lines = [": keep-alive", "id: 7", "event: message", "data: {\"a\":", "data: 1}", "", "data:", ""]
    events = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert events == ['{"a":\n1}', ""]  # the second is a priming event with empty data
