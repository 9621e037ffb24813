"""The proxy pitfall: a real nginx between the client and the SSE server.

``buffered.conf.template`` is nginx's default ``proxy_buffering on`` plus gzip for
text types (``text/event-stream`` included); ``unbuffered.conf.template`` differs in
``proxy_buffering off``.  The server runs with ``--no-accel-header`` to show the
pitfall, and without it to show that its ``X-Accel-Buffering: no`` header alone
cures the buffered config.  The client is httpx (through httpx-sse), which asks for
gzip as browsers do; curl, which does not, is shown to miss the bug, and to read a finite stream.

No timing is asserted about speed, only about order: nothing arrived although the
server had sent it, and then everything arrived at once when the response ended.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential

EVENTS_SENT_TIMEOUT = 5.0


async def wait_sent(server, count: int) -> None:
    """Wait until the server says it has sent ``count`` events (to nginx, here)."""
    await eventually_async(lambda: server.stats()["events_sent"] >= count, EVENTS_SENT_TIMEOUT,
                           f"the server sent {count} events")


async def test_buffering_proxy_holds_events_until_the_response_ends(sse_server, sse_nginx, sse_stream):
    server = sse_server("--no-accel-header")
    proxy = sse_nginx(server.port, buffered=True)
    stream = await sse_stream(proxy.url("/events?lastEventId=0&limit=4"), wait_open=False)
    for i in range(1, 4):
        server.publish("note", {"n": i})
    await wait_sent(server, 3)  # the server has written events 1..3 to nginx ...
    await asyncio.sleep(1.5)
    assert stream.events == []  # ... and the client has none of them: nginx holds them
    server.publish("note", {"n": 4})  # the 4th reaches limit=4: the server ends the response
    await stream.wait_count(4, timeout=5)  # now nginx flushes: all four arrive in one lump
    assert stream.ids == ["1", "2", "3", "4"]
    assert stream.response is not None and stream.response.headers.get("content-encoding") == "gzip"


async def test_unbuffered_proxy_passes_events_on_live(sse_server, sse_nginx, sse_stream):
    server = sse_server("--no-accel-header")
    proxy = sse_nginx(server.port, buffered=False)
    stream = await sse_stream(proxy.url("/events?lastEventId=0"))
    for i in range(1, 4):
        server.publish("note", {"n": i})
    await stream.wait_count(3, timeout=5)  # the response is still open: these came live
    assert stream.ids == ["1", "2", "3"]
    assert not stream.ended


async def test_the_x_accel_buffering_header_alone_cures_the_buffered_proxy(sse_server, sse_nginx, sse_stream):
    server = sse_server()  # sends X-Accel-Buffering: no (the default)
    proxy = sse_nginx(server.port, buffered=True)
    stream = await sse_stream(proxy.url("/events?lastEventId=0"))
    for i in range(1, 4):
        server.publish("note", {"n": i})
    await stream.wait_count(3, timeout=5)
    assert stream.ids == ["1", "2", "3"] and not stream.ended
    headers = stream.response.headers
    assert "x-accel-buffering" not in headers  # nginx consumed it: it was meant for nginx only
    assert headers.get("content-encoding") == "gzip"  # still compressed, now flushed per event


def test_curl_without_gzip_does_not_see_the_pitfall(sse_server, sse_nginx):
    server = sse_server("--no-accel-header")
    proxy = sse_nginx(server.port, buffered=True)
    for i in range(1, 3):
        server.publish("note", {"n": i})
    # No limit: the response never ends, so whatever curl printed before `timeout` killed
    # it came through live.  curl sends no Accept-Encoding, so nginx does not gzip.
    result = subprocess.run(["timeout", "2", "curl", "-sS", "-N", proxy.url("/events?lastEventId=0")],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 124  # killed by timeout: the stream was still open
    assert "id: 1\n" in result.stdout and "id: 2\n" in result.stdout


def test_curl_reads_a_finite_stream(sse_server):
    server = sse_server()
    for i in range(3):
        server.publish("news", {"headline": f"h{i}"})
    url = server.url("/events?lastEventId=0&limit=2")
    result = subprocess.run(["timeout", "10", "curl", "-sS", "-N", url], capture_output=True, text=True,
                            timeout=15)
    assert result.returncode == 0, result.stderr  # limit=2: the server ended the response
    assert result.stdout == ('retry: 1000\n\n'
                             'id: 1\nevent: news\ndata: {"headline":"h0"}\n\n'
                             'id: 2\nevent: news\ndata: {"headline":"h1"}\n\n')
    # The server logs the end just after it ends the response: wait for the line, bounded.
    server.proc.wait_line(r"gone after 2 events \(limit 2 reached\)", timeout=5)
