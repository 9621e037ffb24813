"""(c) Server-Sent Events: one long response, an event per ``id:``/``data:`` block.

``GET /sse`` answers ``text/event-stream`` and never ends; each event is::

    id: 7
    data: {"seq":7,"made":...,"price":101.25}
    <blank line>

A browser's ``EventSource`` reconnects by itself when the stream breaks and
sends the last ``id`` it saw as ``Last-Event-ID`` (WHATWG HTML, "Server-sent
events"), so the server replays what was missed.  A comment line (``: ping``)
every ``heartbeat`` seconds keeps proxies from timing the idle stream out.

:func:`frame` and :class:`SseParser` are the pure wire format; the rest is I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wirelab_common.wiretrace import Trace, shorten

from .feed import BadCursor, Event, Feed, parse_cursor
from .sink import Sink, until_stopped

PATH = "/sse"


def frame(event: Event) -> bytes:
    return f"id: {event.seq}\ndata: {event.json()}\n\n".encode()


@dataclass
class SseEvent:
    id: str  # the last id: seen, this event's or an earlier one's (what Last-Event-ID sends)
    type: str
    data: str
    at: float = 0.0  # time.monotonic() when it arrived, for a client that measures (the hybrid's)


class SseParser:
    """Bytes or lines in, events out (WHATWG HTML "Interpreting an event stream"): the fields
    ``data``, ``event``, ``id`` and ``retry``; comments (our heartbeat) are skipped."""

    def __init__(self) -> None:
        self.buffer = b""
        self.last_id = ""  # kept even across streams: it is what Last-Event-ID sends
        self.retry_ms: int | None = None
        self._type = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """Bytes as they arrive, split anywhere: ``(last id, data)`` for each event completed."""
        self.buffer += chunk
        events = []
        # Lines end in CRLF, LF or CR; a CR at the very end may be half of a CRLF: wait for more.
        while True:
            ends = [i for i in (self.buffer.find(b"\r"), self.buffer.find(b"\n")) if i >= 0]
            if not ends:
                return events
            end = min(ends)
            if self.buffer[end:end + 1] == b"\r" and end + 1 == len(self.buffer):
                return events
            text = self.buffer[:end].decode("utf-8", "replace")
            self.buffer = self.buffer[end + (2 if self.buffer[end:end + 2] == b"\r\n" else 1):]
            event = self.line(text)
            if event is not None:
                events.append((event.id, event.data))

    def line(self, text: str) -> SseEvent | None:
        """One line without its end; an event comes out at the blank line that ends it."""
        if not text:
            if not self._data:  # a block with no data (retry: only, a comment) dispatches nothing
                self._type = ""
                return None
            event = SseEvent(self.last_id, self._type or "message", "\n".join(self._data))
            self._type, self._data = "", []
            return event
        if text.startswith(":"):
            return None  # a comment: the heartbeat
        name, _, value = text.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def routes(feed: Feed, trace: Trace, heartbeat: float) -> list[Route]:
    async def sse(request: Request) -> Response:
        asked = request.headers.get("last-event-id") or request.query_params.get("since")
        try:
            since = parse_cursor(asked, feed.last)
        except BadCursor as exc:
            trace.state(f"400 {PATH}: {exc}")
            return JSONResponse({"error": str(exc)}, status_code=400)
        trace.state(f"{PATH}: stream opened from seq {since}")

        async def stream(cursor: int) -> AsyncIterator[bytes]:
            yield b": open\n\n"  # the headers and a first byte now: the client knows it is connected
            while not feed.closed:
                events = await feed.wait_after(cursor, heartbeat)
                if not events:
                    if not feed.closed:
                        yield b": ping\n\n"
                    continue
                for event in events:
                    trace.sent(f"{PATH} id: {event.seq}", [shorten(frame(event))])  # -v: the bytes
                    yield frame(event)
                cursor = events[-1].seq

        return StreamingResponse(stream(since), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return [Route(PATH, sse)]


async def receive(base: str, sink: Sink, stop: asyncio.Event) -> None:
    attempt = 0
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5, read=60)) as http:
        while not stop.is_set():
            headers = {"Accept": "text/event-stream", "Last-Event-ID": str(sink.cursor)}
            try:
                async with http.stream("GET", PATH, headers=headers) as response:
                    response.raise_for_status()
                    sink.trace.state(f"{PATH} open (Last-Event-ID: {sink.cursor})",
                                     [f"{k}: {v}" for k, v in response.headers.items()])
                    attempt = 0
                    parser = SseParser()
                    async for chunk in until_stopped(stop, response.aiter_bytes()):
                        for _, data in parser.feed(chunk):
                            sink.take(Event.from_json(data))
                if not stop.is_set():
                    raise httpx.RemoteProtocolError("the stream ended")
            except httpx.HTTPError as exc:
                await sink.pause_after_failure(attempt, stop, f"stream broke: {exc!r}")
                attempt += 1

