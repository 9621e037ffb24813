"""The host meets servers that only know the handshake (2025-11-25 and older).

The real servers here are dual-era, so these play legacy-only servers: a small
stdio script, and an HTTP endpoint on httpx.MockTransport.  Each behaves the way
2026-07-28 "Versioning" says old servers do when a modern probe arrives: an
error, or silence on stdio; a 400 without a modern error body over HTTP.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap

import httpx
import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import LEGACY, MODERN, VersionMismatch
from wirelab_common.wiretrace import Trace

LEGACY_STDIO_SERVER = textwrap.dedent('''
    import json, sys
    MODE, VERSION = sys.argv[1], sys.argv[2]
    ready = False
    def send(message):
        sys.stdout.write(json.dumps(message) + "\\n"); sys.stdout.flush()
    for line in sys.stdin:
        msg = json.loads(line)
        method, ident = msg.get("method"), msg.get("id")
        if ident is None:
            ready = ready or method == "notifications/initialized"
        elif method == "initialize":
            send({"jsonrpc": "2.0", "id": ident, "result": {"protocolVersion": VERSION,
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "old-server", "version": "0"}}})
        elif not ready:
            if MODE == "error":
                send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32600, "message": "not initialized"}})
            # MODE == "silent": say nothing, as some old servers do
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [{"name": "echo",
                  "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}}]}})
        elif method == "tools/call":
            text = json.dumps(msg["params"]["arguments"])
            send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": text}]}})
''')


@pytest.fixture
def legacy_script(tmp_path):
    path = tmp_path / "legacy_server.py"
    path.write_text(LEGACY_STDIO_SERVER)
    return path


@pytest.mark.parametrize("mode", ["error", "silent"])
async def test_a_legacy_stdio_server_gets_initialize_after_the_probe_fails(legacy_script, mode):
    out = io.StringIO()
    argv = [sys.executable, str(legacy_script), mode, LEGACY]
    client = await McpClient.stdio(argv, Trace("host", stream=out), probe_timeout=1.0)
    try:
        assert client.session.version == LEGACY and client.session.server_info["name"] == "old-server"
        trace = out.getvalue()
        assert "server/discover" in trace and "falling back to initialize" in trace
        assert "initialized, protocol 2025-11-25" in trace
        if mode == "silent":
            assert "notifications/cancelled #1" in trace  # the unanswered probe is withdrawn
        assert [t.name for t in await client.list_tools()] == ["echo"]
        result = await client.call_tool("echo", {"said": "hi"})
        assert result.text == '{"said": "hi"}' and result.structured is None and not result.is_error
    finally:
        await client.close()


async def test_a_server_that_counter_offers_a_version_we_do_not_speak_is_refused(legacy_script):
    with pytest.raises(VersionMismatch, match="2024-11-05"):
        await McpClient.stdio([sys.executable, str(legacy_script), "error", "2024-11-05"],
                              Trace("host", stream=io.StringIO()))


class LegacyHttpServer:
    """A 2025-11-25 Streamable HTTP endpoint: sessions, no server/discover (MockTransport handler)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "DELETE":
            return httpx.Response(200)
        body = json.loads(request.content)
        if body.get("method") == "initialize":
            result = {"protocolVersion": LEGACY, "capabilities": {}, "serverInfo": {"name": "old-http"}}
            return httpx.Response(200, headers={"Mcp-Session-Id": "s-1"},
                                  json={"jsonrpc": "2.0", "id": body["id"], "result": result})
        if request.headers.get("mcp-session-id") != "s-1":
            return httpx.Response(400, text="Bad Request: Missing session ID")  # not a JSON-RPC body
        if "id" not in body:
            return httpx.Response(202)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": {"tools": []}})


async def test_a_legacy_http_server_answering_400_without_a_modern_error_gets_initialize():
    server = LegacyHttpServer()
    out = io.StringIO()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    client = await McpClient.http("http://old.invalid/mcp", Trace("host", stream=out), http=http)
    try:
        assert client.session.version == LEGACY
        assert await client.list_tools() == []
    finally:
        await client.close()
    methods = [json.loads(r.content).get("method") if r.content else r.method for r in server.requests]
    assert methods == ["server/discover", "initialize", "notifications/initialized", "tools/list", "DELETE"]
    probe, later = server.requests[0], server.requests[3]
    assert probe.headers["mcp-protocol-version"] == MODERN
    assert probe.headers["mcp-method"] == "server/discover"
    assert later.headers["mcp-session-id"] == "s-1" and later.headers["mcp-protocol-version"] == LEGACY
    assert "mcp-method" not in later.headers
    assert "Missing session ID" in out.getvalue()
