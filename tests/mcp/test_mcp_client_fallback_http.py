"""The host meets a Streamable HTTP server that only knows the handshake (2025-11-25).

A stand-in endpoint on httpx.MockTransport answers the modern probe as old
servers do (2026-07-28 "Versioning"): a 400 whose body is not a modern JSON-RPC
error.  The host must fall back to ``initialize`` and use the session it gets.
"""

from __future__ import annotations

import io
import json

import httpx
import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import LEGACY, MODERN
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.memory


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
