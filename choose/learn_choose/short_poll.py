"""(a) Short polling: ask "what is the price now?" every ``interval`` seconds.

``GET /poll/latest`` answers the newest event only, so the endpoint *coalesces*:
events made between two polls, except the last, are never seen.  That is the
right trade for a price (only the current one matters) and the wrong one for a
notification feed.  The ``ETag`` is the event's seq: a poll that finds nothing
new sends ``If-None-Match`` and gets ``304 Not Modified`` without a body.

Latency is up to one interval (half on average), and an idle client still costs
``60 / interval`` requests a minute.
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wirelab_common.wiretrace import Trace

from .feed import Event, Feed
from .sink import Sink

PATH = "/poll/latest"


def routes(feed: Feed, trace: Trace) -> list[Route]:
    async def latest(request: Request) -> Response:
        event = feed.latest()
        if event is None:
            return Response(status_code=204)
        etag = f'"{event.seq}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        trace.sent(f"200 {PATH} seq={event.seq}")
        return Response(event.json(), media_type="application/json", headers={"ETag": etag})

    return [Route(PATH, latest)]


async def receive(base: str, sink: Sink, stop: asyncio.Event, *, interval: float = 0.5) -> None:
    attempt = 0
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while not stop.is_set():
            headers = {"If-None-Match": f'"{sink.cursor}"'} if sink.cursor else {}
            try:
                response = await http.get(PATH, headers=headers)
            except httpx.HTTPError as exc:
                await sink.pause_after_failure(attempt, stop, f"poll failed: {exc!r}")
                attempt += 1
                continue
            attempt = 0
            detail = [f"{k}: {v}" for k, v in headers.items()]
            sink.trace.sent(f"GET {PATH} -> {response.status_code}", detail)
            if response.status_code == 200:
                sink.take(Event.from_json(response.content))
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
