"""Integration tests of the SSE server: real server processes on free ports.

The reader is httpx-sse (through the ``sse_stream`` collector); curl and nginx
are in test_proxy.py.  Servers run without the feed (``--tick 0``)
unless a test needs it, so every id is predictable: the test publishes the events.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from learn_sse.completions import ChatMessage, reply_text
from learn_sse.feed import FeedGenerator, encode_data
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()["error"]


async def test_events_stream_sends_sse_headers_and_a_retry_hint_first(sse_server):
    server = sse_server("--retry-ms", "1234")
    server.publish("note", {"n": 1})
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", server.url("/events?lastEventId=0&limit=1")) as response:
            body = (await response.aread()).decode()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert body == 'retry: 1234\n\nid: 1\nevent: note\ndata: {"n":1}\n\n'


async def test_no_accel_header_option_drops_only_that_header(sse_server):
    server = sse_server("--no-accel-header")
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", server.url("/events?limit=1")) as response:
            headers = response.headers
    assert "x-accel-buffering" not in headers
    assert headers["content-type"].startswith("text/event-stream")


async def test_every_event_carries_an_increasing_id_and_its_type(sse_server, sse_stream):
    server = sse_server()
    stream = await sse_stream(server.url("/events"))
    published = [server.publish(t, {"i": i}) for i, t in enumerate(["price", "news", "note"])]
    events = await stream.wait_count(3)
    assert published == [1, 2, 3]
    assert [(e.id, e.event, e.json()) for e in events] == [
        ("1", "price", {"i": 0}), ("2", "news", {"i": 1}), ("3", "note", {"i": 2})]
    assert stream.retry == 1000


async def test_resume_with_last_event_id_gets_exactly_the_missed_events_then_live(sse_server, sse_stream):
    server = sse_server()
    for i in range(1, 6):
        server.publish("note", {"n": i})
    stream = await sse_stream(server.url("/events"), headers={"Last-Event-ID": "2"})
    await stream.wait_count(3)
    assert stream.ids == ["3", "4", "5"]
    assert server.publish("note", {"n": 6}) == 6
    await stream.wait_count(4)
    await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive meanwhile
    assert stream.ids == ["3", "4", "5", "6"]
    assert "resumed from id 2" in server.proc.output()


async def test_query_last_event_id_works_and_the_header_wins_over_it(sse_server, sse_stream):
    server = sse_server()
    for i in range(1, 6):
        server.publish("note", {"n": i})
    by_query = await sse_stream(server.url("/events?lastEventId=3"))
    assert [e.id for e in await by_query.wait_count(2)] == ["4", "5"]
    # A browser reconnecting to a URL with ?lastEventId= also sends the header: it is newer.
    both = await sse_stream(server.url("/events?lastEventId=1"), headers={"Last-Event-ID": "4"})
    assert [e.id for e in await both.wait_count(1)] == ["5"]


async def test_without_last_event_id_the_stream_starts_live(sse_server, sse_stream):
    server = sse_server()
    server.publish("note", {"old": True})
    stream = await sse_stream(server.url("/events"))
    server.publish("note", {"new": True})
    await stream.wait_count(1)
    await asyncio.sleep(0.2)
    assert [(e.id, e.json()) for e in stream.events] == [("2", {"new": True})]


async def test_too_old_last_event_id_gets_a_reset_event_then_live(sse_server, sse_stream):
    server = sse_server("--replay", "3")
    for i in range(1, 7):
        server.publish("note", {"n": i})
    assert (server.stats()["oldest_id"], server.stats()["last_id"]) == (4, 6)
    # One behind the window is not too old: nothing it missed was pruned.
    edge = await sse_stream(server.url("/events"), headers={"Last-Event-ID": "3"})
    assert [e.id for e in await edge.wait_count(3)] == ["4", "5", "6"]

    stream = await sse_stream(server.url("/events"), headers={"Last-Event-ID": "1"})
    reset = (await stream.wait_count(1))[0]
    assert reset.event == "reset" and reset.id == "6"
    assert reset.json() == {"reason": "last-event-id too old", "requested": 1, "oldest_available": 4,
                            "last_id": 6}
    server.publish("note", {"n": 7})
    await stream.wait_count(2)
    assert stream.ids == ["6", "7"]


async def test_an_id_the_server_never_issued_gets_a_reset_too(sse_server, sse_stream):
    server = sse_server()
    server.publish("note", {})
    stream = await sse_stream(server.url("/events"), headers={"Last-Event-ID": "99"})
    reset = (await stream.wait_count(1))[0]
    assert reset.event == "reset"
    assert reset.json()["reason"] == "last-event-id ahead of the log" and reset.json()["requested"] == 99


def test_a_non_integer_last_event_id_is_an_http_400_not_a_stream(sse_server):
    server = sse_server()
    for bad in ["abc", "-1", "1.5", "1e3", "9" * 30]:
        response = httpx.get(server.url("/events"), headers={"Last-Event-ID": bad}, timeout=5)
        assert response.status_code == 400, bad
        err = error_of(response)
        assert err["param"] == "Last-Event-ID" and "decimal event id" in err["message"], err
        response = httpx.get(server.url("/events"), params={"lastEventId": bad}, timeout=5)
        assert response.status_code == 400 and error_of(response)["param"] == "lastEventId", bad
    assert server.stats()["subscribers_total"] == 0  # no stream was ever started


def test_publish_rejects_malformed_requests_with_clear_errors(sse_server):
    server = sse_server()
    url = server.url("/publish")
    cases = [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 400, "exactly"),
        (json.dumps({"type": "note"}).encode(), 400, "exactly"),
        (json.dumps({"type": "note", "data": 1, "extra": 2}).encode(), 400, "exactly"),
        (json.dumps({"type": 5, "data": 1}).encode(), 400, "type must match"),
        (json.dumps({"type": "two words", "data": 1}).encode(), 400, "type must match"),
        (json.dumps({"type": "evil\ndata: x", "data": 1}).encode(), 400, "type must match"),
        (json.dumps({"type": "reset", "data": 1}).encode(), 400, "reset"),
        (json.dumps({"type": "note", "data": "x" * 70_000}).encode(), 413, "larger than"),
    ]
    for body, status, words in cases:
        response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=5)
        assert response.status_code == status, (body[:40], response.text)
        assert words in error_of(response)["message"], (body[:40], response.text)
    assert server.stats()["last_id"] == 0  # nothing was stored
    assert server.publish("note", {"fine": True}) == 1


async def test_heartbeat_comments_keep_an_idle_stream_busy(sse_server):
    server = sse_server("--heartbeat", "0.3")
    lines = []
    async with httpx.AsyncClient(timeout=5) as client:
        async with client.stream("GET", server.url("/events")) as response:
            async with asyncio.timeout(5):
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line.startswith(":"):
                        break
    assert lines[-1] == ": heartbeat"  # a comment line (WHATWG HTML §9.2.6): EventSource ignores it


async def test_a_client_that_goes_away_stops_its_generator_promptly(sse_server):
    server = sse_server()
    before = server.stats()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    server.publish("note", {"hello": 1})
    received = b""
    while b"id: 1" not in received:
        received += sock.recv(4096)
    assert server.stats()["subscribers_active"] == before["subscribers_active"] + 1
    sock.close()  # no request to stop: the connection just ends
    stats = await eventually_async(
        lambda: (s := server.stats())["generators_stopped"] == 1 and s["subscribers_active"] == 0 and s,
        5, "the generator of the client that left stopped")
    assert stats["subscribers_total"] == 1
    server.proc.wait_line(r"subscriber 127\.0\.0\.1:\d+ gone after 1 events \(client disconnected\)", 2)


async def test_restart_with_the_same_data_dir_continues_ids_and_replays_what_was_missed(
        sse_server, sse_stream):
    first = sse_server()
    stream = await sse_stream(first.url("/events"))
    for i in range(1, 4):
        first.publish("note", {"n": i})
    await stream.wait_count(3)
    last_seen = stream.events[-1].id
    assert first.proc.stop() == 0  # SIGTERM: a clean exit ...
    await stream.wait_ended()  # ... that ended the stream cleanly (no error on the reader)
    assert "subscriber" in first.proc.output() and "(server shutting down)" in first.proc.output()

    second = sse_server(data_dir=first.data_dir)
    assert second.stats()["last_id"] == 3
    assert [second.publish("note", {"n": i}) for i in (4, 5)] == [4, 5]  # ids continue
    resumed = await sse_stream(second.url("/events"), headers={"Last-Event-ID": last_seen})
    await resumed.wait_count(2)
    second.publish("note", {"n": 6})
    await resumed.wait_count(3)
    await asyncio.sleep(0.2)
    assert resumed.ids == ["4", "5", "6"]
    assert [e.json()["n"] for e in resumed.events] == [4, 5, 6]


async def test_the_feed_ticks_deterministic_events_of_rotating_types(sse_server, sse_stream):
    server = sse_server(tick="0.1")
    stream = await sse_stream(server.url("/events?lastEventId=0&limit=4"))
    await stream.wait_ended()
    expected = FeedGenerator()
    for i, event in enumerate(stream.events, start=1):
        kind, data = expected.next_event()
        assert (event.id, event.event, event.data) == (str(i), kind, encode_data(data))
    assert [e.event for e in stream.events] == ["price", "news", "status", "price"]


def test_sigterm_ends_the_server_with_exit_code_0(sse_server):
    server = sse_server()
    server.proc.signal(signal.SIGTERM)
    server.proc.popen.wait(10)
    assert server.proc.popen.returncode == 0
    assert "stopped" in server.proc.output()


def test_a_busy_port_is_a_setup_error_with_a_hint(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "learn_sse.server", "--port", str(port),
                                 "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "what to do" in result.stderr


def test_a_subscriber_that_falls_out_of_the_window_mid_stream_gets_a_reset(sse_server):
    """A slow reader only lags (no queue to overflow) until the window moves past it."""
    server = sse_server("--replay", "5")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small TCP window
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(1024)
    big = "x" * 60_000
    with httpx.Client(timeout=5) as client:  # publish until the server is stuck behind the window
        for _ in range(400):
            assert client.post(server.url("/publish"), json={"type": "note", "data": big}).status_code == 201
            stats = client.get(server.url("/stats")).json()
            if stats["last_id"] - stats["events_sent"] > 10:
                break
        else:
            pytest.fail(f"the reader never fell behind: {stats}")
        assert stats["subscribers_active"] == 1  # still connected: slow is not an error
        received = b""
        while not re.search(rb"event: reset\ndata: [^\n]*\n\n", received):  # now read everything
            received += sock.recv(1 << 20)
        live = client.post(server.url("/publish"), json={"type": "note", "data": "live"}).json()["id"]
    while f"id: {live}\n".encode() not in received:
        received += sock.recv(1 << 20)
    sock.close()
    seen = [(int(i), kind) for i, kind in re.findall(rb"id: (\d+)\nevent: (\w+)", received)]
    reset_at = [i for i, (_, kind) in enumerate(seen) if kind == b"reset"]
    assert len(reset_at) == 1, seen
    before, reset, after = seen[:reset_at[0]], seen[reset_at[0]], seen[reset_at[0] + 1:]
    assert [i for i, _ in before] == list(range(1, len(before) + 1))  # in order, none skipped
    assert reset[0] > before[-1][0] + 5  # the window (5 events) had moved past the reader
    assert after == [(int(live), b"note")]  # then live again, after the reset's id
    assert b'"reason":"last-event-id too old"' in received


def test_raw_http_errors_for_bad_json_and_missing_fields(sse_server):
    server = sse_server()
    url = server.url("/v1/chat/completions")
    cases = [
        (b"{not json", None, "could not parse the JSON"),
        (b'{"messages": []}', "model", "Missing required parameter: 'model'"),
        (b'{"model": "m"}', "messages", "Missing required parameter: 'messages'"),
        (b'{"model": "m", "messages": "hi"}', "messages", "Invalid type for 'messages'"),
        (b'{"model": "m", "messages": [{"role": "user"}]}', "messages[0].content", "Missing required"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream",
         "Invalid type for 'stream'"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens",
         "an integer >= 1"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}',
         "stream_options", "only allowed when 'stream' is enabled"),
    ]
    for body, param, words in cases:
        response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=5)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param, (body, error)
        assert words in error["message"], (body, error)


def test_the_raw_stream_is_data_lines_only_and_ends_with_done(sse_server):
    server = sse_server("--token-delay", "0")
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi there"}]}
    with httpx.stream("POST", server.url("/v1/chat/completions"), json=body, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    blocks = raw.removesuffix("\n\n").split("\n\n")
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks  # one data line each
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == reply_text(
        (ChatMessage("user", "hi there"),))
