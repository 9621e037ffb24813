"""The host meets servers that only know the handshake (2025-11-25 and older).

The real servers here are dual-era, so a small stdio script plays a legacy-only
server, the way 2026-07-28 "Versioning" says old servers answer a modern probe:
with an error, or with silence.  (The HTTP case, a 400 without a modern error
body, is test_mcp_client_fallback_http.py.)
"""

from __future__ import annotations

import io
import sys
import textwrap

import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import LEGACY, VersionMismatch
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

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
