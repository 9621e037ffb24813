"""Bad input on both transports: each gets the error the spec prescribes, and the server keeps serving.

| input                         | stdio                  | HTTP (status, JSON-RPC code)            |
|-------------------------------|------------------------|-----------------------------------------|
| not JSON                      | -32700, id null        | 400, -32700                             |
| JSON but not JSON-RPC / batch | -32600                 | 400, -32600                             |
| unknown method                | -32601                 | legacy 200, -32601; modern 404, -32601  |
| invalid params                | -32602                 | legacy 200, -32602; modern 400, -32602  |
| request before initialize     | -32600                 | 400 (no session)                        |
| unsupported version (modern)  | -32022 + supported     | 400, -32022                             |
| unsupported version (initialize) | counter-offer 2025-11-25 | counter-offer                        |
| foreign Origin                | -                      | 403                                     |
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.loopback

BAD_STDIO = [
    ("not json", "{oops", -32700),
    ("not json-rpc", '{"hello": "world"}', -32600),
    ("batch", '[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', -32600),
    ("unknown method", '{"jsonrpc": "2.0", "id": 11, "method": "tools/explode"}', -32601),
    ("invalid params", '{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": 4}}', -32602),
    ("unknown tool", '{"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "x"}}', -32602),
]


def read_json_line(proc: subprocess.Popen) -> dict:
    assert proc.stdout is not None
    return json.loads(proc.stdout.readline())


def test_stdio_bad_input_gets_spec_errors_and_the_server_keeps_going(wire):
    proc = subprocess.Popen([sys.executable, "-m", "learn_mcp.server", "--transport", "stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None

    def exchange(line: str) -> dict:
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
        return read_json_line(proc)

    try:
        before = exchange('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}')
        assert before["error"]["code"] == -32600 and "initialize" in before["error"]["message"]
        old = exchange(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "initialize",
                                   "params": {"protocolVersion": "2024-01-01", "capabilities": {}}}))
        assert old["result"]["protocolVersion"] == "2025-11-25"  # the spec's counter-offer
        for name, line, code in BAD_STDIO:
            assert exchange(line)["error"]["code"] == code, name
        modern = wire.modern_request("tools/list", id=20)
        modern["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
        error = exchange(json.dumps(modern))["error"]
        assert error["code"] == -32022 and "2026-07-28" in error["data"]["supported"]
        ok = exchange('{"jsonrpc": "2.0", "id": 30, "method": "tools/call", "params": '
                      '{"name": "calculate", "arguments": {"expression": "2+2"}}}')
        assert ok["result"]["structuredContent"] == {"value": 4}
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0


HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def session(mcp_url):
    """A healthy legacy session opened before the bad input, to check it survives."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}}}
    reply = httpx.post(mcp_url, content=json.dumps(init), headers=HEADERS)
    return {**HEADERS, "Mcp-Session-Id": reply.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25"}


def still_serves(url: str, session: dict) -> None:
    body = {"jsonrpc": "2.0", "id": 99, "method": "tools/call",
            "params": {"name": "calculate", "arguments": {"expression": "7*6"}}}
    reply = httpx.post(url, content=json.dumps(body), headers=session)
    assert reply.json()["result"]["structuredContent"] == {"value": 42}


@pytest.mark.parametrize("name, body, status, code", [
    ("not json", "{oops", 400, -32700),
    ("not json-rpc", '{"hello": "world"}', 400, -32600),
    ("batch", '[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', 400, -32600),
])
def test_http_unparseable_bodies(mcp_url, session, name, body, status, code):
    reply = httpx.post(mcp_url, content=body, headers=HEADERS)
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    still_serves(mcp_url, session)


@pytest.mark.parametrize("method, params, legacy_code, modern_status", [
    ("tools/explode", {}, -32601, 404),
    ("tools/call", {"name": "calculate", "arguments": [1]}, -32602, 400),
    ("resources/read", {"uri": "notes://missing"}, -32002, 400),
])
def test_http_method_and_params_errors_per_revision(mcp_url, session, wire, method, params, legacy_code,
                                                    modern_status):
    legacy = httpx.post(mcp_url, content=json.dumps({"jsonrpc": "2.0", "id": 5, "method": method,
                                                     "params": params}), headers=session)
    assert (legacy.status_code, legacy.json()["error"]["code"]) == (200, legacy_code)
    body = wire.modern_request(method, params)
    headers = wire.modern_headers(body)
    modern = httpx.post(mcp_url, content=json.dumps(body), headers=headers)
    assert modern.status_code == modern_status
    assert modern.json()["error"]["code"] == (-32602 if legacy_code == -32002 else legacy_code)
    still_serves(mcp_url, session)


def test_http_request_before_initialize_is_400(mcp_url, session):
    body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    reply = httpx.post(mcp_url, content=body, headers=HEADERS)
    assert reply.status_code == 400 and "initialize" in reply.json()["error"]["message"]
    still_serves(mcp_url, session)


def test_http_initialize_with_an_unknown_version_gets_the_counter_offer(mcp_url, session):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2024-01-01", "capabilities": {}}}
    reply = httpx.post(mcp_url, content=json.dumps(body), headers=HEADERS)
    assert reply.status_code == 200 and reply.json()["result"]["protocolVersion"] == "2025-11-25"
    still_serves(mcp_url, session)


def test_http_unsupported_modern_version_is_400_with_supported_list(mcp_url, session, wire):
    body = wire.modern_request("tools/list")
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
    headers = {**wire.modern_headers(body), "MCP-Protocol-Version": "2099-01-01"}
    reply = httpx.post(mcp_url, content=json.dumps(body), headers=headers)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == -32022 and error["data"] == {
        "supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "2099-01-01"}
    still_serves(mcp_url, session)


@pytest.mark.parametrize("headers, status", [
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Host": "evil.example"}, 421),
    ({"Accept": "text/html"}, 406),
    ({"Content-Type": "text/plain"}, 415),
])
def test_http_foreign_origin_host_and_wrong_media_types(mcp_url, session, headers, status):
    body = '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}'
    assert httpx.post(mcp_url, content=body, headers={**HEADERS, **headers}).status_code == status
    still_serves(mcp_url, session)


def test_http_own_origin_is_accepted(mcp_url, session):
    own = mcp_url.rsplit("/", 1)[0]
    body = '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}'
    assert httpx.post(mcp_url, content=body, headers={**HEADERS, "Origin": own}).status_code == 200
