"""Our hand-written client against the official SDK's MCPServer (learn_mcp.sdk_server), over
stdio and Streamable HTTP, in both revisions: the same checks as against our own server."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest

from learn_mcp.host.client import McpClient
from learn_mcp.host.client_session import MODERN
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential

SDK_SERVER = [sys.executable, "-m", "learn_mcp.sdk_server"]


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with start_server([*SDK_SERVER, "--transport", "http", "--port", "0"], name="sdk") as server:
        yield f"{server.url}/mcp"


@pytest.mark.timeout(120)  # over_stdio may wait 3 x 15 s for the server to exit, each bounded
@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_our_client_over_stdio(era, peer_checks):
    await peer_checks.over_stdio(SDK_SERVER, era)


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_our_client_over_streamable_http(http_url, era, peer_checks):
    await peer_checks.over_http(http_url, era)


async def test_a_default_host_probes_and_stays_modern_over_http(http_url):
    out = io.StringIO()
    client = await McpClient.http(http_url, Trace("host", stream=out))
    try:
        assert client.session.version == MODERN
        assert "initialize" not in out.getvalue() and "server/discover" in out.getvalue()
    finally:
        await client.close()
