"""Our hand-written client against our hand-rolled server (learn_mcp.server), over stdio and
Streamable HTTP, in both revisions.  The same checks against the official SDK's MCPServer are
in test_mcp_client_sdk_peer.py."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import MODERN, RemoteError
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

SERVER = [sys.executable, "-m", "learn_mcp.server"]
TOKEN = "peer-test-token"


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One HTTP server (with a bearer token) for the module; its endpoint URL."""
    argv = [*SERVER, "--transport", "http", "--port", "0", "--token", TOKEN]
    with start_server(argv, name="mcp") as server:
        yield f"{server.url}/mcp"


@pytest.mark.timeout(120)  # over_stdio may wait 3 x 15 s for the server to exit, each bounded
@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_our_client_over_stdio(era, peer_checks):
    await peer_checks.over_stdio(SERVER, era)


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_our_client_over_streamable_http(http_url, era, peer_checks):
    await peer_checks.over_http(http_url, era, token=TOKEN)


async def test_a_default_host_probes_and_stays_modern_over_http(http_url):
    out = io.StringIO()
    client = await McpClient.http(http_url, Trace("host", stream=out), token=TOKEN)
    try:
        assert client.session.version == MODERN
        assert "initialize" not in out.getvalue() and "server/discover" in out.getvalue()
    finally:
        await client.close()


async def test_the_wrong_bearer_token_fails_to_connect(http_url, peer_checks):
    with pytest.raises(RemoteError, match="401|Unauthorized"):
        await McpClient.http(http_url, peer_checks.quiet(), token="wrong")
