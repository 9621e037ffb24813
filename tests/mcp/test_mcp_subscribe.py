"""The host's subscribe API against our server: both revisions, both transports.

``McpClient.subscribe(uri, on_updated)`` is ``resources/subscribe`` plus the GET stream at
2025-11-25 and a ``subscriptions/listen`` stream at 2026-07-28; the caller sees no
difference.  (Against the SDK's server: ``test_mcp_2026_peers.py``.)
"""

from __future__ import annotations

import sys

import pytest

from learn_mcp.host.client import McpClient
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback

STDIO = [sys.executable, "-m", "learn_mcp.server", "--transport", "stdio"]


@pytest.fixture(params=["stdio", "http"])
def transport(request, wire, peer_checks):
    if request.param == "http":
        proc, url = wire.start_http_server()
        request.addfinalizer(proc.stop)
        return lambda versions: McpClient.http(url, peer_checks.quiet(), versions=versions)
    return lambda versions: McpClient.stdio(STDIO, peer_checks.quiet(), versions=versions, probe_timeout=30)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_subscribe_hears_only_the_watched_uri_until_unsubscribed(transport, era, peer_checks):
    client = await transport(peer_checks.ERAS[era])
    try:
        ids = (await client.call_tool("add_notes", {"notes": [["Milk", "buy"], ["Eggs", "buy"],
                                                               ["Tea", "buy"]]})).value["ids"]
        heard: list[str] = []
        await client.subscribe(f"notes://{ids[1]}", heard.append)
        await client.call_tool("delete_note", {"id": ids[0]})  # not watched
        await client.call_tool("delete_note", {"id": ids[1]})
        await eventually_async(lambda: heard, 10, "notifications/resources/updated")
        assert heard == [f"notes://{ids[1]}"] and f"notes://{ids[0]}" not in client.updates
        await client.unsubscribe(f"notes://{ids[1]}")
        await client.subscribe(f"notes://{ids[2]}")
        await client.call_tool("delete_note", {"id": ids[2]})
        await eventually_async(lambda: f"notes://{ids[2]}" in client.updates, 10, "the second URI's update")
        assert heard == [f"notes://{ids[1]}"]  # the first callback is gone with its subscription
    finally:
        await client.close()
