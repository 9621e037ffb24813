"""SSE polling of a POST (SEP-1699, 2025-11-25): the server ends the connection mid-call, raw HTTP resumes it.

With ``--sse-close-after`` the server ends a POST's SSE connection once its call has run
that long: the client has the priming event's id and a ``retry:``, and gets the rest of
the call (progress, then the response) from ``GET`` + ``Last-Event-ID``.  Without the
option the same call keeps its connection to the end, so the first test proves the
option is what closes it.  Our host (``host/client_http.py``) resumes such a stream too.
"""

from __future__ import annotations

import io
import json
import re

import httpx
import pytest

from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

LEGACY = "2025-11-25"
ACCEPT_BOTH = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SLOW = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
    "name": "slow_count", "arguments": {"steps": 4, "delay": 0.25}, "_meta": {"progressToken": "p"}}}


def open_session(client: httpx.Client, url: str) -> dict[str, str]:
    reply = client.post(url, headers=ACCEPT_BOTH, content=json.dumps({
        "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
    headers = {"Mcp-Session-Id": reply.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY}
    client.post(url, headers={**ACCEPT_BOTH, **headers},
                content=json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    return headers


def events(text: str) -> list[dict[str, str]]:
    """SSE blocks as {field: value} (id, data, retry), in order."""
    blocks = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.split("\n") if ":" in line)
        if fields:
            blocks.append({name: value.strip() for name, value in fields.items()})
    return blocks


def messages(blocks: list[dict[str, str]]) -> list[dict]:
    return [json.loads(b["data"]) for b in blocks if b.get("data")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("close_after", [None, 0.3], ids=["held-open", "closed-mid-call"])
def test_a_post_closed_mid_call_is_resumed_by_get_with_last_event_id(wire, close_after):
    proc, url = wire.start_http_server(*(["--sse-close-after", str(close_after)] if close_after else []))
    with proc, httpx.Client(timeout=10) as client:
        session = open_session(client, url)
        posted = events(client.post(url, headers={**ACCEPT_BOTH, **session}, content=json.dumps(SLOW)).text)
        assert posted[0].get("id") and not posted[0].get("data")  # the priming event: an id, no message
        first, rest = messages(posted), []
        if close_after is None:  # held open: everything on the POST, no retry
            assert not any("retry" in b for b in posted)
        else:
            rest = resume(client, url, session, posted)
    progress = [m["params"]["progress"] for m in first + rest if m.get("method") == "notifications/progress"]
    assert progress == [1, 2, 3, 4]  # nothing lost, nothing twice, across the connections
    response = (first + rest)[-1]
    assert response["id"] == 7 and response["result"]["structuredContent"] == {"counted": 4}
    assert ("closed mid-call by the server" in proc.output()) == (close_after is not None)


def resume(client: httpx.Client, url: str, session: dict[str, str], posted: list[dict[str, str]]) -> list:
    """The POST ended early (no response, a retry): GET after its last event id; the messages that come."""
    first = messages(posted)
    assert not any("result" in m for m in first), "the server should have closed before the response"
    assert posted[-1].get("retry") == "500"  # come back in 500 ms (the default without --sse-poll-ms)
    last_id = [b["id"] for b in posted if "id" in b][-1]
    resumed = client.get(url, headers={**session, "Accept": "text/event-stream", "Last-Event-ID": last_id})
    assert resumed.status_code == 200
    return messages(events(resumed.text))


@pytest.mark.timeout(30)
def test_a_last_event_id_the_log_cannot_continue_is_404_and_the_server_goes_on(mcp_url):
    with httpx.Client(timeout=10) as client:
        session = open_session(client, mcp_url)
        reply = client.post(mcp_url, headers={**ACCEPT_BOTH, **session}, content=json.dumps(SLOW))
        posted = events(reply.text)
        stream_id = posted[0]["id"].rpartition("-")[0]
        get = {**session, "Accept": "text/event-stream"}
        for bad in ("nonsense", "no-such-stream-0", f"{stream_id}-99"):  # garbage, unknown, never sent
            refused = client.get(mcp_url, headers={**get, "Last-Event-ID": bad})
            assert refused.status_code == 404, bad
            assert "cannot resume after Last-Event-ID" in refused.json()["error"]["message"]
        # the stream itself is still resumable, and the session still serves
        again = client.get(mcp_url, headers={**get, "Last-Event-ID": posted[0]["id"]})
        assert messages(events(again.text))[-1]["result"]["structuredContent"] == {"counted": 4}


@pytest.mark.timeout(60)
async def test_our_host_resumes_a_post_closed_mid_call(wire):
    from learn_mcp.host.client import McpClient

    out, progress = io.StringIO(), []
    proc, url = wire.start_http_server("--sse-close-after", "0.3")
    with proc:
        client = await McpClient.http(url, Trace("host", stream=out), versions=(LEGACY,))
        try:
            result = await client.call_tool("slow_count", {"steps": 4, "delay": 0.25},
                                            on_progress=lambda value, total, text: progress.append(value))
        finally:
            await client.close()
    assert result.value == {"counted": 4} and progress == [1, 2, 3, 4]
    assert re.search(r"GET: #\d+'s stream resumed after \S+-\d+", out.getvalue()), out.getvalue()[-2000:]
