"""The resuming client against real servers: ``python -m learn_sse.server`` processes on free ports.

The main story: the server is stopped (SIGTERM) and restarted on the same port
and data directory while events are published; the client reconnects with
``Last-Event-ID`` and ends up with every event exactly once.  The 204 and
wrong-Content-Type cases use a small Starlette app under uvicorn: a real HTTP
server too, written to answer in exactly the way being tested.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from learn_sse.client import ConnectionFailed, EventSourceClient, ReadyState
from learn_sse.event_stream import Event, format_event
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

LIVE = r"subscriber \S+ (connected|resumed)"


def start_sse(procs, data_dir, *extra: str, port: int = 0) -> ManagedProcess:
    """Our server on ``--port 0`` (or ``port``, for a restart), stopped after the test by ``procs``."""
    proc = start_server([sys.executable, "-m", "learn_sse.server", "--port", str(port), "--data-dir",
                         str(data_dir), "--tick", "0", "--retry-ms", "200", *extra], name="sse")
    procs.started.append(proc)
    return proc


async def publish(base: str, *numbers: int) -> list[str]:
    async with httpx.AsyncClient(trust_env=False) as http:
        ids = []
        for n in numbers:
            response = await http.post(f"{base}/publish", json={"type": "news", "data": {"n": n}})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    await eventually_async(condition, timeout, "the condition of the test", interval=0.02)


class Reader:
    """Runs ``client.events()`` in a task and records every event."""

    def __init__(self, client: EventSourceClient) -> None:
        self.client = client
        self.events: list[Event] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.client.events():
            self.events.append(event)

    def ids(self) -> list[int]:
        return [int(event.id) for event in self.events if event.id is not None]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def client_for(url: str, **kwargs) -> tuple[EventSourceClient, io.StringIO]:
    output = io.StringIO()
    return EventSourceClient(url, trace=Trace("client", stream=output), **kwargs), output


async def test_client_receives_published_events_with_ids(procs, tmp_path):
    server = start_sse(procs, tmp_path)
    base = server.url
    client, _ = client_for(f"{base}/events")
    reader = Reader(client)
    try:
        await asyncio.to_thread(server.wait_line, LIVE)  # subscribed: nothing published from now is missed
        assert await publish(base, 1, 2, 3) == ["1", "2", "3"]
        await wait_until(lambda: len(reader.events) == 3)
    finally:
        await reader.stop()
    assert [(e.type, e.id, json.loads(e.data)) for e in reader.events] == [
        ("news", "1", {"n": 1}), ("news", "2", {"n": 2}), ("news", "3", {"n": 3})]
    assert client.retry_ms == 200  # the server's retry: replaced our 3000 ms default


@pytest.mark.slow
async def test_client_resumes_across_a_server_restart_without_loss_or_duplicates(procs, tmp_path):
    server = start_sse(procs, tmp_path)
    port, base = server.port, server.url
    client, output = client_for(f"{base}/events")
    reader = Reader(client)
    try:
        await asyncio.to_thread(server.wait_line, LIVE)
        await publish(base, 1, 2, 3)
        await wait_until(lambda: len(reader.events) == 3)
        await publish(base, 4, 5)  # may or may not reach the client before the stream ends
        assert await asyncio.to_thread(server.stop) == 0
        await wait_until(lambda: client.state is ReadyState.CONNECTING)
        seen_before_restart = reader.ids()
        await asyncio.sleep(0.5)  # a few refused reconnection attempts
        server = start_sse(procs, tmp_path, port=port)
        await publish(base, 6, 7)  # likely before the client is back: it must get them by replay
        await asyncio.to_thread(server.wait_line, r"subscriber \S+ resumed from id")
        await publish(base, 8, 9, 10)
        await wait_until(lambda: len(reader.events) >= 10)
        await asyncio.sleep(0.3)  # time for a duplicate, were one coming
    finally:
        await reader.stop()
    assert reader.ids() == list(range(1, 11)), output.getvalue()
    assert [json.loads(e.data)["n"] for e in reader.events] == list(range(1, 11))
    # Every request after the drop said where the client was: the last id it had seen.
    last_seen = str(seen_before_restart[-1])
    assert client.sent_last_event_ids[0] is None
    assert set(client.sent_last_event_ids[1:]) == {last_seen}
    assert re.search(rf"resumed from id {last_seen}\b", server.output())
    assert client.connects == 2
    # The server's retry: 200 ms, then doubled for each refused attempt while it was down.
    delays = client.reconnect_delays
    assert len(delays) >= 2 and delays == pytest.approx([0.2 * 2**i for i in range(len(delays))])
    assert f"reconnect in 0.20 s with Last-Event-ID {last_seen}" in output.getvalue()


async def test_client_waits_the_servers_retry_between_limited_streams(procs, tmp_path):
    base = start_sse(procs, tmp_path).url
    await publish(base, 1, 2, 3)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    # ?limit=1: the server ends each stream after one event, as a proxy timeout would.
    client, _ = client_for(f"{base}/events?limit=1", last_event_id="0", sleep=sleep)
    received = []
    async with asyncio.timeout(10), client:
        async for event in client.events():
            received.append(event.id)
            if len(received) == 3:
                break
    assert received == ["1", "2", "3"]
    assert slept == [0.2, 0.2]  # not our 3 s default: the server said retry: 200
    assert client.sent_last_event_ids == ["0", "1", "2"]


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "learn_sse.client", *args], capture_output=True, text=True,
                          timeout=timeout)


async def test_cli_with_count_and_expect_consecutive_exits_0(procs, tmp_path):
    base = start_sse(procs, tmp_path).url
    await publish(base, 1, 2, 3, 4, 5)
    result = await asyncio.to_thread(run_cli, "--url", f"{base}/events", "--last-event-id", "0",
                                     "--count", "5",
                                     "--expect-consecutive", "--timeout", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received 5 event(s), ids 1..5 consecutive over 1 connection(s)" in result.stdout


async def test_cli_without_a_server_exits_2_with_a_hint():
    result = await asyncio.to_thread(run_cli, "--url", f"http://127.0.0.1:{free_port()}/events",
                                     "--count", "1",
                                     "--max-reconnects", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "start one: python -m learn_sse.server" in result.stderr


async def test_a_too_old_last_event_id_gets_the_servers_reset_event(procs, tmp_path):
    base = start_sse(procs, tmp_path, "--replay", "3").url
    await publish(base, *range(1, 11))  # ids 1..10; only 8, 9, 10 are kept
    client, _ = client_for(f"{base}/events", last_event_id="2")
    async with asyncio.timeout(10), client:
        event = await anext(client.events())
    assert event.type == "reset"
    body = json.loads(event.data)
    assert (body["requested"], body["oldest_available"]) == (2, 8)
    assert client.last_event_id == event.id  # the server moved us to now, past the hole
    # The CLI, asked to check for gaps, says what happened and exits 1.
    result = await asyncio.to_thread(run_cli, "--url", f"{base}/events", "--last-event-id", "2",
                                     "--count", "1",
                                     "--expect-consecutive", "--timeout", "20")
    assert result.returncode == 1
    assert "the server could not resume the stream: reset" in result.stderr


async def test_a_malformed_last_event_id_is_refused_by_the_server_and_not_retried(procs, tmp_path):
    base = start_sse(procs, tmp_path).url
    client, _ = client_for(f"{base}/events", last_event_id="abc")
    with pytest.raises(ConnectionFailed, match="HTTP 400") as failure:
        async with asyncio.timeout(10), client:
            async for _ in client.events():
                pass
    assert failure.value.status == 400 and client.reconnect_delays == []


@pytest.fixture
async def tiny_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A Starlette app on a port the kernel picks: /once-then-204 and /json.  Yields (base URL, requests)."""
    requested: list[str] = []

    async def once_then_204(request):
        requested.append(request.url.path)
        if len(requested) > 1:
            return Response(status_code=204)

        async def body():
            yield format_event("only one", id="1")
        return StreamingResponse(body(), media_type="text/event-stream")

    async def not_a_stream(request):
        requested.append(request.url.path)
        return JSONResponse({"hello": "world"})

    app = Starlette(routes=[Route("/once-then-204", once_then_204), Route("/json", not_a_stream)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done())
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", requested
    finally:
        server.should_exit = True
        await task


async def test_204_no_content_stops_reconnecting_for_good(tiny_server):
    base, requested = tiny_server
    client, output = client_for(f"{base}/once-then-204", retry_ms=50)
    async with asyncio.timeout(10):
        received = [event.data async for event in client.events()]
    assert received == ["only one"]
    await asyncio.sleep(0.3)  # no third request comes
    assert requested == ["/once-then-204", "/once-then-204"]
    assert client.sent_last_event_ids == [None, "1"]
    assert client.state is ReadyState.CLOSED
    assert "HTTP 204 No Content: the server says stop" in output.getvalue()


async def test_a_wrong_content_type_fails_the_connection_clearly(tiny_server):
    base, requested = tiny_server
    client, _ = client_for(f"{base}/json", retry_ms=50)
    with pytest.raises(ConnectionFailed, match=r"HTTP 200 with Content-Type 'application/json'; "
                                                r"expected 200 text/event-stream") as failure:
        async with asyncio.timeout(10):
            async for _ in client.events():
                pass
    assert failure.value.content_type == "application/json"
    assert requested == ["/json"] and client.state is ReadyState.CLOSED
    result = await asyncio.to_thread(run_cli, "--url", f"{base}/json", "--count", "1")
    assert result.returncode == 2 and "is this the URL of an event stream?" in result.stderr
