"""(b) Long polling: ask "anything after seq N?" and let the server hold the answer.

``GET /longpoll?since=N`` answers at once with every event after N, or holds
the request until one is made (up to ``hold`` seconds, then ``204 No Content``).
The client asks again immediately with its new cursor, so nothing is lost, even
across a reconnect: the cursor travels in every request.

The hold must be shorter than every proxy's read timeout on the way (nginx:
``proxy_read_timeout`` 60 s by default), or the proxy answers 504 first.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wirelab_common.wiretrace import Trace

from .feed import BadCursor, Event, Feed, parse_cursor
from .sink import Sink

PATH = "/longpoll"


def routes(feed: Feed, trace: Trace, hold: float) -> list[Route]:
    async def longpoll(request: Request) -> Response:
        try:
            since = parse_cursor(request.query_params.get("since"), feed.last)
        except BadCursor as exc:
            trace.state(f"400 {PATH}: {exc}")
            return JSONResponse({"error": str(exc)}, status_code=400)
        events = await feed.wait_after(since, hold)
        if not events:
            return Response(status_code=204)  # held the full time: ask again
        trace.sent(f"200 {PATH}?since={since} with {len(events)} events", [e.json() for e in events])
        return Response("[" + ",".join(e.json() for e in events) + "]", media_type="application/json")

    return [Route(PATH, longpoll)]


async def receive(base: str, sink: Sink, stop: asyncio.Event, *, hold: float = 25.0) -> None:
    attempt = 0
    async with httpx.AsyncClient(base_url=base, timeout=hold + 10) as http:
        while not stop.is_set():
            request = asyncio.ensure_future(http.get(PATH, params={"since": sink.cursor}))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait([request, stopped], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if stop.is_set():
                request.cancel()
                return
            try:
                response = request.result()
                response.raise_for_status()
            except httpx.HTTPError as exc:
                await sink.pause_after_failure(attempt, stop, f"long poll failed: {exc!r}")
                attempt += 1
                continue
            attempt = 0
            sink.trace.sent(f"GET {PATH}?since={sink.cursor} -> {response.status_code}")
            if response.status_code == 200:
                for item in json.loads(response.content):
                    sink.take(Event(item["seq"], item["made"], item["price"]))
