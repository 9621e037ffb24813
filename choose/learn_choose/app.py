"""One server, six doors: the feed and the routes of every delivery method.

    GET  /poll/latest                   (a) short polling   short_poll.py
    GET  /longpoll?since=N              (b) long polling    long_poll.py
    GET  /sse            Last-Event-ID  (c) SSE             sse.py
    WS   /ws             {"resume": N}  (d) WebSocket       ws.py
    POST /webhook/subscriptions         (e) webhook         webhook.py
    GET  /stream?since=N                (f) chunked fetch   chunked.py

and three for the lab and the page:

    POST /publish?count=3   make a burst of events (the schedule's driver)
    GET  /stats             requests per path, open connections, RSS and file descriptors
    GET  /                  the browser page (static/page.html)
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from wirelab_common.wiretrace import Trace

from . import chunked, long_poll, short_poll, sse, webhook, ws
from .feed import Feed


@dataclass
class Settings:
    data_dir: Path | None = None
    hold: float = 25.0  # long poll: seconds a request waits for an event before 204
    heartbeat: float = 15.0  # SSE, chunked: seconds between keep-alive lines on an idle stream


def process_stats() -> dict[str, int]:
    """This process's resident memory (VmRSS, KiB) and open file descriptors, from /proc."""
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"rss_kib": rss, "fds": len(os.listdir("/proc/self/fd"))}


class Counting:
    """ASGI middleware: counts requests by path and the connections open right now."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests: Counter[str] = Counter()
        self.open = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        self.requests[scope["path"]] += 1
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1


def create_app(settings: Settings, trace: Trace) -> Starlette:
    data = settings.data_dir
    feed = Feed(data / "events.jsonl" if data else None)
    deliveries = webhook.Deliveries(feed, trace, data / "subscriptions.json" if data else None)

    async def publish(request: Request) -> Response:
        count = request.query_params.get("count", "1")
        if not count.isdigit() or not 1 <= int(count) <= 1000:
            return JSONResponse({"error": "count must be 1..1000"}, status_code=400)
        made = feed.publish(int(count))
        trace.state(f"made seq {made[0].seq}..{made[-1].seq}" if len(made) > 1 else f"made seq {made[0].seq}")
        return JSONResponse({"last": feed.last})

    async def stats(request: Request) -> Response:
        return JSONResponse({**process_stats(), "last": feed.last, "open": counting.open,
                             "requests": dict(counting.requests), "subscriptions": len(deliveries.subs)})

    async def page(request: Request) -> Response:
        return HTMLResponse(files("learn_choose").joinpath("static/page.html").read_text())

    routes = [
        *short_poll.routes(feed, trace),
        *long_poll.routes(feed, trace, settings.hold),
        *sse.routes(feed, trace, settings.heartbeat),
        *ws.routes(feed, trace, settings.heartbeat),
        *webhook.routes(deliveries, trace),
        *chunked.routes(feed, trace, settings.heartbeat),
        Route("/publish", publish, methods=["POST"]),
        Route("/stats", stats),
        Route("/", page),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        deliveries.start()
        yield
        await deliveries.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    counting = Counting(app)
    counting.feed = feed  # type: ignore[attr-defined]
    return counting  # type: ignore[return-value]
