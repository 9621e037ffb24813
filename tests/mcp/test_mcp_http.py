"""Streamable HTTP on a real server process, with raw HTTP: both revisions, sessions, SSE, resumption."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.loopback

LEGACY = "2025-11-25"
ACCEPT_BOTH = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def post(client: httpx.Client, url: str, body: dict, **headers: str) -> httpx.Response:
    return client.post(url, content=json.dumps(body), headers={**ACCEPT_BOTH, **headers})


def open_session(client: httpx.Client, url: str) -> dict[str, str]:
    """initialize + initialized; returns the headers every later request of the session needs."""
    reply = post(client, url, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
    assert reply.status_code == 200 and reply.json()["result"]["protocolVersion"] == LEGACY
    headers = {"Mcp-Session-Id": reply.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY}
    assert post(client, url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                **headers).status_code == 202
    return headers


def call(tool: str, id: int = 1, token: str | None = None, **arguments) -> dict:
    params: dict = {"name": tool, "arguments": arguments}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


# --- legacy (2025-11-25) --------------------------------------------------------------------------

def test_session_is_created_used_and_deleted(mcp_url):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        reply = post(client, mcp_url, call("calculate", expression="6*7"), **session)
        assert reply.headers["content-type"].startswith("application/json")
        assert reply.json()["result"]["structuredContent"] == {"value": 42}
        assert client.delete(mcp_url, headers=session).status_code == 204
        gone = post(client, mcp_url, call("calculate", expression="1"), **session)
        assert gone.status_code == 404


def test_request_without_session_is_400_and_unknown_session_is_404(mcp_url):
    with httpx.Client(timeout=10) as client:
        assert post(client, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).status_code == 400
        unknown = post(client, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       **{"Mcp-Session-Id": "nope", "MCP-Protocol-Version": LEGACY})
        assert unknown.status_code == 404


def test_unsupported_protocol_version_header_is_400(mcp_url):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        reply = post(client, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     **{**session, "MCP-Protocol-Version": "1999-01-01"})
        assert reply.status_code == 400 and "1999-01-01" in reply.json()["error"]["message"]


def test_progress_comes_as_sse_with_a_priming_event(mcp_url, wire):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        reply = post(client, mcp_url, call("slow_count", token="p1", steps=3, delay=0), **session)
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.text.replace("\r\n", "\n").startswith("id: ")  # primes Last-Event-ID
        messages = wire.sse_messages(reply.text)
        assert [m["params"]["progress"] for m in messages[:-1]] == [1, 2, 3]
        assert messages[-1]["result"]["structuredContent"] == {"counted": 3}


def test_get_stream_carries_list_changed_notifications(mcp_url):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        with client.stream("GET", mcp_url, headers={**session, "Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert post(client, mcp_url, call("add_note", title="t", body="b"), **session).status_code == 200
            received = None
            for line in stream.iter_lines():
                if line.startswith("data:") and line[5:].strip():
                    received = json.loads(line[5:])
                    break
        assert received is not None, "the GET stream ended without a message"
        assert received["method"] == "notifications/resources/list_changed"


def test_broken_stream_resumes_with_last_event_id(mcp_url, wire):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        seen: list[str] = []
        with client.stream("POST", mcp_url, content=json.dumps(call("slow_count", token="r", steps=4,
                                                                         delay=0.2)),
                           headers={**ACCEPT_BOTH, **session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("id:"):
                    seen.append(line[3:].strip())
                if line.startswith("data:") and '"progress":1' in line.replace(" ", ""):
                    break  # hang up after the first progress notification
        resumed = client.get(mcp_url, headers={**session, "Accept": "text/event-stream",
                                               "Last-Event-ID": seen[-1]})
        messages = wire.sse_messages(resumed.text)
        assert [m["params"]["progress"] for m in messages[:-1]] == [2, 3, 4]
        assert messages[-1]["result"]["structuredContent"] == {"counted": 4}


def test_cancelled_notification_stops_the_request(mcp_url):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        with client.stream("POST", mcp_url, content=json.dumps(call("slow_count", id=9, token="c", steps=50,
                                                                         delay=0.05)),
                           headers={**ACCEPT_BOTH, **session}) as stream:
            lines = stream.iter_lines()
            for line in lines:
                if '"progress"' in line:
                    break
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": 9, "reason": "test"}}
            assert post(client, mcp_url, cancel, **session).status_code == 202
            rest = "\n".join(lines)  # the stream ends without a response for id 9
        assert '"result"' not in rest


# --- modern (2026-07-28) --------------------------------------------------------------------------

def test_modern_request_needs_no_session(mcp_url, wire):
    body = wire.modern_request("tools/call", {"name": "calculate", "arguments": {"expression": "2**8"}})
    reply = httpx.post(mcp_url, content=json.dumps(body), headers=wire.modern_headers(body))
    assert reply.status_code == 200 and "mcp-session-id" not in reply.headers
    result = reply.json()["result"]
    assert result["structuredContent"] == {"value": 256} and result["resultType"] == "complete"


def test_modern_progress_stream_has_no_event_ids(mcp_url, wire):
    body = wire.modern_request("tools/call", {"name": "slow_count", "arguments": {"steps": 2, "delay": 0}},
                          progressToken="m")
    reply = httpx.post(mcp_url, content=json.dumps(body), headers=wire.modern_headers(body))
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert "id:" not in reply.text
    assert [m.get("method") for m in wire.sse_messages(reply.text)] == ["notifications/progress"] * 2 + [None]


@pytest.mark.parametrize("header, value", [("Mcp-Method", "tools/list"), ("Mcp-Name", "add_note"),
                                           ("MCP-Protocol-Version", None)])
def test_headers_that_disagree_with_the_body_are_header_mismatch(mcp_url, header, value, wire):
    body = wire.modern_request("tools/call", {"name": "calculate", "arguments": {"expression": "1"}})
    headers = wire.modern_headers(body)
    if value is None:
        del headers[header]
        headers["MCP-Protocol-Version"] = "2025-11-25"
    else:
        headers[header] = value
    reply = httpx.post(mcp_url, content=json.dumps(body), headers=headers)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == -32020


def test_base64_mcp_name_is_decoded(mcp_url, wire):
    body = wire.modern_request("resources/read", {"uri": "notes://index"})
    headers = {**wire.modern_headers(body), "Mcp-Name": "=?base64?bm90ZXM6Ly9pbmRleA==?="}
    assert httpx.post(mcp_url, content=json.dumps(body), headers=headers).status_code == 200


def test_get_and_delete_without_session_are_405(mcp_url):
    assert httpx.get(mcp_url, headers={"Accept": "text/event-stream"}).status_code == 405
    assert httpx.delete(mcp_url).status_code == 405


# --- security --------------------------------------------------------------------------------------

def test_token_is_required_when_configured(wire):
    proc, url = wire.start_http_server("--token", "s3cret")
    with proc:
        body = wire.modern_request("tools/list")
        refused = httpx.post(url, content=json.dumps(body), headers=wire.modern_headers(body))
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        ok = httpx.post(url, content=json.dumps(body),
                        headers={**wire.modern_headers(body), "Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_allowed_extra_origin(wire):
    proc, url = wire.start_http_server("--allow-origin", "http://app.example")
    with proc:
        body = wire.modern_request("tools/list")
        for origin, status in (("http://app.example", 200), ("http://evil.example", 403)):
            headers = {**wire.modern_headers(body), "Origin": origin}
            reply = httpx.post(url, content=json.dumps(body), headers=headers)
            assert reply.status_code == status


def test_closing_a_modern_stream_cancels_its_request(wire):
    proc, url = wire.start_http_server()
    with proc:
        slow = {"name": "slow_count", "arguments": {"steps": 100, "delay": 0.05}}
        body = wire.modern_request("tools/call", slow, progressToken="x")
        with httpx.stream("POST", url, content=json.dumps(body), headers=wire.modern_headers(body)) as stream:
            for line in stream.iter_lines():
                if '"progress"' in line:
                    break  # hang up: in 2026-07-28 that is the cancellation
        proc.wait_line(r"request 1 cancelled: client closed the stream", timeout=10)


def test_quiet_prints_only_the_ready_line_with_the_port_it_got(wire):
    proc, url = wire.start_http_server("-q")
    with proc:
        body = wire.modern_request("tools/list")
        assert httpx.post(url, content=json.dumps(body), headers=wire.modern_headers(body)).status_code == 200
        assert proc.output().splitlines() == [f"= mcp      listening on http://127.0.0.1:{proc.port}"]
