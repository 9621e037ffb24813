"""(e) Webhook: the server POSTs each event to a URL the subscriber registered.

The subscriber is itself a server.  It registers once::

    POST /webhook/subscriptions  {"url": "http://127.0.0.1:9001/hook", "since": 0}
    -> 201 {"id": "s1"}

and from then on receives ``POST /hook`` with one event as the JSON body, which
it acknowledges with any 2xx.  The server keeps, per subscription, the cursor of
the last acknowledged event and retries the next one with backoff until it is
acknowledged, so deliveries are in order and at-least-once (the receiver drops
a repeat by ``seq``).  Subscriptions and cursors live in the data directory, so
a restarted server resumes every subscriber where it stopped.

No browser can be a subscriber: a page cannot accept an incoming connection.
Between servers, nothing stays connected while the feed is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wirelab_common.backoff import backoff_delay
from wirelab_common.wiretrace import Trace

from .feed import BadCursor, Event, Feed, parse_cursor
from .sink import Sink

PATH = "/webhook/subscriptions"


def parse_subscription(body: bytes, last: int) -> tuple[str, int]:
    """(url, since) of a subscription request, or BadCursor saying what is wrong."""
    try:
        data = json.loads(body)
        url, since = data["url"], data.get("since", 0)
    except (ValueError, KeyError, TypeError):
        raise BadCursor('the body must be JSON: {"url": "http://...", "since": <seq>}') from None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadCursor(f"url must be an http(s) URL, got {str(url)[:60]!r}")
    return url, parse_cursor(str(since), last)


class Deliveries:
    """Every subscription: its URL, its cursor, and a task that POSTs what it has not acknowledged."""

    def __init__(self, feed: Feed, trace: Trace, path: Path | None) -> None:
        self.feed, self.trace, self.path = feed, trace, path
        self.subs: dict[str, dict] = json.loads(path.read_text()) if path and path.exists() else {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.http: httpx.AsyncClient | None = None

    def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=None))
        for sid in self.subs:
            self.tasks[sid] = asyncio.ensure_future(self._deliver(sid))

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    def add(self, url: str, since: int) -> str:
        sid = f"s{len(self.subs) + 1}"
        self.subs[sid] = {"url": url, "cursor": since}
        self._save()
        self.tasks[sid] = asyncio.ensure_future(self._deliver(sid))
        return sid

    def remove(self, sid: str) -> bool:
        if self.subs.pop(sid, None) is None:
            return False
        self.tasks.pop(sid).cancel()
        self._save()
        return True

    def _save(self) -> None:
        if self.path is not None:  # written whole and renamed: a crash leaves the old file or the new
            self.path.with_suffix(".tmp").write_text(json.dumps(self.subs))
            self.path.with_suffix(".tmp").replace(self.path)

    async def _deliver(self, sid: str) -> None:
        sub = self.subs[sid]
        while not self.feed.closed:  # (a closed feed answers at once: this loop would spin)
            for event in await self.feed.wait_after(sub["cursor"], None):
                await self._post_until_acknowledged(sid, sub["url"], event)
                sub["cursor"] = event.seq
                self._save()

    async def _post_until_acknowledged(self, sid: str, url: str, event: Event) -> None:
        attempt = 0
        while True:
            try:
                response = await self.http.post(url, content=event.json(), headers={
                    "Content-Type": "application/json", "Webhook-Id": f"{sid}-{event.seq}"})
                if response.is_success:
                    self.trace.sent(f"POST {url} seq={event.seq} -> {response.status_code}",
                                    [f"{k}: {v}" for k, v in response.request.headers.items()])
                    return
                why = f"{response.status_code}"
            except httpx.HTTPError as exc:
                why = repr(exc)
            delay = backoff_delay(attempt, 0.1, 5.0, random)
            self.trace.state(f"{sid}: seq={event.seq} not acknowledged ({why}); retry in {delay:.2f} s")
            await asyncio.sleep(delay)
            attempt += 1


def routes(deliveries: Deliveries, trace: Trace) -> list[Route]:
    async def subscribe(request: Request) -> Response:
        try:
            url, since = parse_subscription(await request.body(), deliveries.feed.last)
        except BadCursor as exc:
            trace.state(f"400 {PATH}: {exc}")
            return JSONResponse({"error": str(exc)}, status_code=400)
        sid = deliveries.add(url, since)
        trace.state(f"subscription {sid}: {url} from seq {since}")
        return JSONResponse({"id": sid}, status_code=201)

    async def unsubscribe(request: Request) -> Response:
        found = deliveries.remove(request.path_params["sid"])
        return Response(status_code=204 if found else 404)

    return [Route(PATH, subscribe, methods=["POST"]),
            Route(PATH + "/{sid}", unsubscribe, methods=["DELETE"])]


async def receive(base: str, sink: Sink, stop: asyncio.Event, *, expose=None) -> None:
    """Run a receiver on a free port, subscribe to ``base``, take what is POSTed until ``stop``.

    ``expose(port)`` may return another URL for the server to call (the lab puts a
    byte-counting relay or nginx in front of the receiver).
    """
    async def hook(request: Request) -> Response:
        sink.take(Event.from_json(await request.body()))
        return Response(status_code=204)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    serving = asyncio.ensure_future(server.serve(sockets=[listener]))
    target = (await expose(port) if expose else f"http://127.0.0.1:{port}") + "/hook"
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        sid = None
        try:
            response = await http.post(PATH, json={"url": target, "since": sink.cursor})
            response.raise_for_status()
            sid = response.json()["id"]
            sink.trace.sent(f"POST {PATH} url={target} -> {response.status_code} {sid}")
            await stop.wait()
        finally:
            with contextlib.suppress(httpx.HTTPError):
                if sid is not None:
                    await http.delete(f"{PATH}/{sid}")
            server.should_exit = True
            await serving
            listener.close()
