"""(f) Streamed fetch: one chunked HTTP/1.1 response, one JSON line per event.

``GET /stream?since=N`` answers ``application/x-ndjson`` with
``Transfer-Encoding: chunked`` and never ends; each event is a line of JSON.
It is SSE without the format: the browser reads it with ``fetch`` and a
``ReadableStream`` (no ``EventSource``, so no automatic reconnect and no
``Last-Event-ID``: the client keeps its cursor and asks ``since=`` itself).
An empty line every ``heartbeat`` seconds keeps idle proxies from cutting it.

Why not HTTP/2 server streaming: uvicorn speaks HTTP/1.1 only, and browsers
speak HTTP/2 only over TLS; on HTTP/2 the same response would be DATA frames
on one stream of a shared connection instead of chunks on a connection of its
own, and the lesson (a response that does not end) would be the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wirelab_common.wiretrace import Trace, shorten

from .feed import BadCursor, Event, Feed, parse_cursor
from .sink import Sink, until_stopped

PATH = "/stream"


def split_lines(buffer: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of ``buffer + chunk`` (a chunk may end mid-line), and the rest."""
    *lines, rest = (buffer + chunk).split(b"\n")
    return [line for line in lines if line.strip()], rest


def routes(feed: Feed, trace: Trace, heartbeat: float) -> list[Route]:
    async def stream(request: Request) -> Response:
        try:
            since = parse_cursor(request.query_params.get("since"), feed.last)
        except BadCursor as exc:
            trace.state(f"400 {PATH}: {exc}")
            return JSONResponse({"error": str(exc)}, status_code=400)
        trace.state(f"{PATH}: stream opened from seq {since}")

        async def lines(cursor: int) -> AsyncIterator[bytes]:
            yield b"\n"  # flush the headers now: the client knows it is connected
            while not feed.closed:
                events = await feed.wait_after(cursor, heartbeat)
                if not events:
                    if not feed.closed:
                        yield b"\n"
                    continue
                for event in events:
                    trace.sent(f"{PATH} line seq={event.seq}", [shorten(event.json() + "\n")])
                yield b"".join(e.json().encode() + b"\n" for e in events)
                cursor = events[-1].seq

        return StreamingResponse(lines(since), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache"})

    return [Route(PATH, stream)]


async def receive(base: str, sink: Sink, stop: asyncio.Event) -> None:
    attempt = 0
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5, read=60)) as http:
        while not stop.is_set():
            try:
                async with http.stream("GET", PATH, params={"since": sink.cursor}) as response:
                    response.raise_for_status()
                    sink.trace.state(f"{PATH}?since={sink.cursor} open",
                                     [f"{k}: {v}" for k, v in response.headers.items()])
                    attempt, rest = 0, b""
                    async for chunk in until_stopped(stop, response.aiter_bytes()):
                        lines, rest = split_lines(rest, chunk)
                        for line in lines:
                            sink.take(Event.from_json(line))
                if not stop.is_set():
                    raise httpx.RemoteProtocolError("the stream ended")
            except httpx.HTTPError as exc:
                await sink.pause_after_failure(attempt, stop, f"stream broke: {exc!r}")
                attempt += 1
