"""The client's processing model (WHATWG HTML §9.2.3) against a scripted in-process HTTP transport.

httpx's ``MockTransport`` plays the server: each request gets the next scripted
answer (a response, or a network error).  The sleep is injected, so the
reconnection schedule is checked exactly and no test waits.  The real server
is in ``tests/sse/test_client.py``.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from learn_sse.client import (
    ConnectionFailed,
    EventSourceClient,
    ReadyState,
    ReconnectLimitReached,
    is_event_stream,
    reconnect_delay,
)
from learn_sse.event_stream import Event
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.memory

URL = "http://sse.test/events"
STREAM = {"content-type": "text/event-stream"}


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("[Errno 111] Connection refused")


def stream(*chunks: bytes, error: Exception | None = None) -> httpx.Response:
    """A 200 event stream whose body is ``chunks``, then the end -- or ``error`` mid-body."""
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        if error is not None:
            raise error
    return httpx.Response(200, headers=STREAM, content=body())


class Script:
    """The fake server: answers request n with ``answers[n]``; records requests and sleeps."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []
        self.output = io.StringIO()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def client(self, verbose: bool = False, **kwargs: object) -> EventSourceClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        trace = Trace("client", verbose=verbose, stream=self.output)
        return EventSourceClient(URL, http=http, sleep=self.sleep, trace=trace, **kwargs)  # type: ignore[arg-type]

    def header(self, name: str) -> list[str | None]:
        return [request.headers.get(name) for request in self.requests]


async def collect(client: EventSourceClient) -> list[Event]:
    return [event async for event in client.events()]


def test_the_delay_doubles_with_each_failed_attempt_up_to_the_cap():
    assert [reconnect_delay(1000, n, 30_000) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_the_delay_is_never_shorter_than_the_servers_retry():
    assert reconnect_delay(60_000, 3, 30_000) == 60


def test_retry_zero_reconnects_at_once_but_backs_off_after_a_failure():
    assert [reconnect_delay(0, n) for n in range(4)] == [0, 0.2, 0.4, 0.8]


def test_a_mime_type_parameter_does_not_matter_but_the_type_does():
    assert is_event_stream("text/event-stream") and is_event_stream("Text/Event-Stream; charset=utf-8")
    assert not is_event_stream("text/plain") and not is_event_stream("")


async def test_the_reconnect_schedule_follows_retry_and_backs_off_after_failures():
    script = Script(
        refused(), refused(),  # the server is not up yet: 3 s doubled, then doubled again
        stream(b"retry: 500\nid: 1\ndata: a\n\n"),  # it is up, says retry 500 ms, then ends the stream
        refused(),  # down again: 0.5 s doubled
        stream(b"id: 2\ndata: b\n\n"),
        httpx.Response(204),  # "stop reconnecting"
    )
    client = script.client()
    events = await collect(client)
    assert [(e.data, e.last_event_id) for e in events] == [("a", "1"), ("b", "2")]
    assert script.slept == client.reconnect_delays == [6.0, 12.0, 0.5, 1.0, 0.5]
    assert script.header("last-event-id") == [None, None, None, "1", "1", "2"]
    assert client.connects == 2
    assert client.state is ReadyState.CLOSED and "204" in client.closed_reason


async def test_every_request_asks_for_an_uncached_event_stream():
    script = Script(httpx.Response(204))
    await collect(script.client(headers={"Authorization": "Bearer t"}))
    request = script.requests[0]
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["cache-control"] == "no-cache"
    assert request.headers["authorization"] == "Bearer t"
    assert "last-event-id" not in request.headers


async def test_a_saved_last_event_id_is_sent_on_the_first_request():
    script = Script(httpx.Response(204))
    await collect(script.client(last_event_id="41"))
    assert script.header("last-event-id") == ["41"]


async def test_a_non_ascii_last_event_id_is_sent_as_utf8():
    script = Script(stream("id: caf\u00e9\ndata: x\n\n".encode()), httpx.Response(204))
    await collect(script.client())
    assert script.requests[1].headers.raw[-1] == (b"Last-Event-ID", "caf\u00e9".encode())


async def test_a_connection_cut_mid_event_resumes_from_the_last_complete_one():
    script = Script(stream(b"id: 1\ndata: a\n\nid: 2\ndata: hal", error=httpx.ReadError("reset by peer")),
                    stream(b"id: 2\ndata: half\n\n"), httpx.Response(204))
    client = script.client()
    assert [e.data for e in await collect(client)] == ["a", "half"]
    assert script.header("last-event-id") == [None, "1", "2"]
    assert client.reconnect_delays == [3.0, 3.0]  # both connections had opened: no backoff
    assert "ReadError: reset by peer (an incomplete event was discarded)" in script.output.getvalue()


async def test_204_stops_reconnecting_for_good():
    script = Script(stream(b"data: a\n\n"), httpx.Response(204), stream(b"data: never\n\n"))
    client = script.client()
    assert [e.data for e in await collect(client)] == ["a"]
    assert len(script.requests) == 2 and client.reconnect_delays == [3.0]


@pytest.mark.parametrize(("response", "why"), [
    (httpx.Response(500, text="oops"), "HTTP 500"),
    (httpx.Response(404), "HTTP 404"),
    (httpx.Response(200, headers={"content-type": "text/html"}, text="<p>"), "'text/html'"),
    (httpx.Response(200, content=b"data: x\n\n"), "'(none)'"),
], ids=["500", "404", "text/html", "no content type"])
async def test_a_response_that_is_not_an_event_stream_fails_the_connection(response, why):
    script = Script(response, stream(b"data: never\n\n"))
    client = script.client()
    with pytest.raises(ConnectionFailed, match=re.escape(why)):
        await collect(client)
    assert len(script.requests) == 1 and script.slept == []
    assert client.state is ReadyState.CLOSED


async def test_max_reconnects_gives_up_with_the_last_reason():
    script = Script(stream(b"data: a\n\n"), refused(), refused())
    client = script.client(max_reconnects=2)
    received = []
    with pytest.raises(ReconnectLimitReached, match="Connection refused; gave up after 2"):
        async for event in client.events():
            received.append(event.data)
    assert received == ["a"] and client.reconnect_delays == [3.0, 6.0]


async def test_the_trace_shows_the_states_the_events_and_the_retry():
    script = Script(stream(b": hi\nretry: 1000\nid: 12\nevent: price\ndata: {\"p\": 1}\n\n"),
                    httpx.Response(204))
    await collect(script.client())
    lines = script.output.getvalue().splitlines()
    assert "= client   CONNECTING -> OPEN" in lines
    assert "= client   retry is now 1000 ms" in lines
    assert "< client   event=price id=12 data='{\"p\": 1}'" in lines
    assert ("= client   connection lost: the server ended the stream; reconnect in 1.00 s"
            " with Last-Event-ID 12") in lines
    assert "> client   GET http://sse.test/events  Last-Event-ID: 12" in lines
    assert not any(": hi" in line for line in lines)  # heartbeats only with -v


async def test_comments_are_traced_only_when_verbose():
    script = Script(stream(b": heartbeat\n"), httpx.Response(204))
    await collect(script.client(verbose=True))
    assert "< client   : heartbeat" in script.output.getvalue().splitlines()


async def test_breaking_out_and_closing_leaves_the_client_closed():
    script = Script(stream(b"data: a\n\ndata: b\n\n"))
    async with script.client() as client:
        async for event in client.events():
            assert event.data == "a"
            break
    assert client.state is ReadyState.CLOSED and client.closed_reason == "closed by us"
    assert len(script.requests) == 1


async def test_events_can_be_iterated_only_once():
    client = Script().client()
    client.events()
    with pytest.raises(RuntimeError):
        client.events()
