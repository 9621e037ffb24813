"""The official SDK client resumes a POST stream our server ended mid-call (SEP-1699, 2025-11-25).

With ``--sse-close-after`` our server ends the connection of a POST whose call still runs,
after the priming event and with ``retry:``; the SDK's Streamable HTTP client (mcp 2.x)
waits that long, sends ``GET`` with ``Last-Event-ID`` and reads the rest of the call
there: the later progress notifications and the response.  Without the option the
connection stays open to the end, and the server's log says nothing was resumed.
"""

from __future__ import annotations

import pytest
from mcp.client.streamable_http import streamable_http_client

from mcp import ClientSession

pytestmark = pytest.mark.differential


@pytest.mark.timeout(60)
@pytest.mark.parametrize("close_after", [None, 0.3], ids=["held-open", "closed-mid-call"])
async def test_sdk_client_resumes_a_post_closed_mid_call(wire, close_after):
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    proc, url = wire.start_http_server(*(["--sse-close-after", str(close_after)] if close_after else []))
    with proc:
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("slow_count", {"steps": 4, "delay": 0.25},
                                             progress_callback=on_progress)
        log = proc.output()
    assert result.structured_content == {"counted": 4}
    assert progress == [1, 2, 3, 4]  # nothing lost or repeated across the two connections
    resumed = "closed mid-call by the server" in log and "resuming stream" in log
    assert resumed == (close_after is not None), log[-3000:]
