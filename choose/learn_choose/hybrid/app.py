"""The fan-out server's web app: a webhook in, SSE and WebSocket out, Redis in between.

Reading order: signature -> envelope -> fanout -> stream -> **app** -> server -> upstream ->
clients -> demo.

Routes (Starlette):

- ``POST /webhook``: the upstream provider's signed delivery.  401 if the signature,
  the timestamp or the headers are wrong (``signature.py``); 400 if the body is
  not an event; 503 if Redis is down (the provider retries later); else 200
  ``{"id": "<stream id>", "duplicate": false}``, sent only *after* the event is in
  Redis, so an accepted event is never lost by this server.  A delivery whose
  ``webhook-id`` was seen before gets 200 with ``"duplicate": true`` and is not
  added again: the provider's retries are safe.
- ``GET /events``: the feed as ``text/event-stream`` (sse-starlette).  With a
  ``Last-Event-ID`` header (or ``?lastEventId=``) it starts after that id; without
  one, live from now.
- ``WS /ws?client=NAME[&after=ID]``: for the few clients that also send.  Each
  text message ``{"id", "type", "data"}`` is appended (once per NAME and id) and
  acknowledged; the same socket carries the feed (live, or after ``ID``), so a
  trader needs one connection.  A message that is not one gets an ``error``
  message, and the socket stays open.
- ``GET /healthz``: ``{"server": ..., "last_id": ...}``;  ``GET /``: a page with an EventSource.

Every subscriber, SSE or WebSocket, is :func:`subscription`: a cursor moved
along the server's :class:`~.fanout.Window`, with Redis asked directly only for
a stretch the window does not hold.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace, shorten

from . import signature
from .envelope import (
    CLIENT_ID,
    BadEvent,
    Event,
    parse_client_message,
    parse_webhook,
    sse_frame,
    valid_id,
    ws_ack,
    ws_error,
    ws_event,
)
from .fanout import Window
from .stream import EventStream, Gap, Unavailable

MAX_BODY = 64 * 1024
GOING_AWAY = 1001  # RFC 6455 §7.4.1: the server is going down


@dataclass
class Settings:
    server_id: str
    secrets: list[str]
    tolerance: int = signature.TOLERANCE
    window: int = 1000
    retry_ms: int = 1000
    heartbeat: float = 15.0
    clock: Callable[[], float] = time.time


@dataclass
class Context:
    settings: Settings
    stream: EventStream
    trace: Trace
    window: Window = field(default_factory=lambda: Window("0-0"))
    loud: bool = True


async def subscription(ctx: Context, cursor: str) -> AsyncIterator[list[Event] | Gap]:
    """Batches of events after ``cursor``, forever; a :class:`Gap` where the stream lost some.

    Ends when the server shuts down (the window closes); raises :class:`Unavailable` if a
    resume needs Redis and Redis does not answer (the client reconnects and tries again).
    """
    while True:
        batch = ctx.window.after(cursor)
        if batch is None:  # older than this server's window: ask Redis for that stretch
            batch = await ctx.stream.read_after(cursor)
            if not batch:  # Redis has nothing after it either: its data was lost (a restart)
                batch = Gap(cursor, ctx.window.floor)
            if isinstance(batch, Gap):
                yield batch
                cursor = batch.trimmed  # go on with whatever the stream still holds
                continue
        if batch:
            yield batch
            cursor = batch[-1].id
        elif not await ctx.window.wait_beyond(cursor):
            return


def reset_frame(gap: Gap) -> bytes:
    """``event: reset``: the events after ``requested`` up to ``trimmed`` are gone for this client.

    Its ``id:`` moves the browser's last event id past the hole, so a reconnect
    does not ask for it again.
    """
    data = json.dumps({"reason": "events trimmed from the stream", "requested": gap.requested,
                       "lost_through": gap.trimmed})
    return f"id: {gap.trimmed}\nevent: reset\ndata: {data}\n\n".encode()


def peer_of(conn: Request | WebSocket) -> str:
    """``alice@127.0.0.1:5555``: the first word of the User-Agent, if any, and the address."""
    address = f"{conn.client.host}:{conn.client.port}" if conn.client else "?"
    agent = conn.headers.get("user-agent", "").split("/")[0].split(" ")[0]
    return f"{agent}@{address}" if agent else address


def create_app(settings: Settings, stream: EventStream, trace: Trace, loud: bool = True) -> Starlette:
    ctx = Context(settings, stream, trace, loud=loud)
    sockets: set[WebSocket] = set()

    async def begin_shutdown() -> None:
        """End every SSE stream and close every WebSocket with 1001 (server.py calls it on SIGTERM).

        Before uvicorn's own shutdown, which would close WebSockets with 1012 "service restart".
        """
        ctx.window.close()
        for websocket in list(sockets):
            try:
                await websocket.close(GOING_AWAY, "server shutting down")
            except (WebSocketDisconnect, RuntimeError):
                pass  # already closing

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The window starts at the stream's tip: later events come from XREAD, earlier ones
        # (a resume from before this process started) from XRANGE.
        ctx.window = Window(await stream.tip(), settings.window)
        reader = asyncio.create_task(stream.follow(ctx.window), name="xread")
        trace.state(f"following {stream.key} from {ctx.window.floor}")
        yield
        ctx.window.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await stream.close()

    async def webhook(request: Request) -> JSONResponse:
        body = await read_body(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        hook_id = request.headers.get(signature.HEADER_ID, "-")
        detail = [f"{name}: {request.headers.get(name, '-')}" for name in
                  (signature.HEADER_ID, signature.HEADER_TIMESTAMP, signature.HEADER_SIGNATURE)]
        try:
            signature.verify(settings.secrets, request.headers, body, now=int(settings.clock()),
                             tolerance=settings.tolerance)
        except signature.Refused as exc:
            trace.received(f"webhook {shorten(hook_id, 40)} REFUSED 401: {exc.reason}", detail,
                           peer="upstream")
            return JSONResponse({"error": exc.reason}, status_code=401)
        try:
            type_, data = parse_webhook(body)
        except BadEvent as exc:
            trace.received(f"webhook {hook_id} refused 400: {exc}", detail, peer="upstream")
            return JSONResponse({"error": str(exc)}, status_code=400)
        if loud:
            trace.received(f"webhook {hook_id} signature ok: {type_} {shorten(data, 50)}",
                           [*detail, f"body: {shorten(body, 200)}"], peer="upstream", cid=hook_id)
        try:
            stream_id, duplicate = await stream.append_once(f"webhook:{hook_id}", type_, data)
        except Unavailable:
            return JSONResponse({"error": "redis unavailable; retry later"}, status_code=503)
        if loud:
            trace.sent(f"webhook {hook_id} 200 id={stream_id}" + (" (duplicate)" if duplicate else ""),
                       peer="upstream", cid=hook_id)
        return JSONResponse({"id": stream_id, "duplicate": duplicate})

    async def events(request: Request):
        raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        if raw and not valid_id(raw):
            return JSONResponse({"error": f"Last-Event-ID must be a stream id like 1765142400123-0, "
                                          f"got {shorten(raw, 30)!r}"}, status_code=400)
        peer, cursor = peer_of(request), raw or ctx.window.last
        trace.state(f"SSE subscriber {peer} " + (f"resumes after {raw}" if raw else f"live from {cursor}"),
                    [f"Last-Event-ID: {request.headers.get('last-event-id', '-')}",
                     f"user-agent: {request.headers.get('user-agent', '-')}"])
        return EventSourceResponse(
            sse_events(peer, cursor), ping=settings.heartbeat, sep="\n",
            headers={"Cache-Control": "no-cache"},
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep="\n"))

    async def sse_events(peer: str, cursor: str) -> AsyncIterator[bytes]:
        sent, why = 0, "client went away"
        try:
            yield f"retry: {settings.retry_ms}\n\n".encode()  # how long EventSource waits to reconnect
            async for batch in subscription(ctx, cursor):
                if isinstance(batch, Gap):
                    trace.sent(f"SSE {peer} event: reset (lost after {batch.requested} "
                               f"through {batch.trimmed})")
                    yield reset_frame(batch)
                    continue
                if loud:
                    for event in batch:
                        trace.sent(f"SSE {peer} id: {event.id} event: {event.type} ({event.source})",
                                   sse_frame(event).decode().splitlines() if trace.verbose else (),
                                   cid=event.id)
                yield b"".join(map(sse_frame, batch))  # a burst leaves in one chunk
                sent += len(batch)
            why = "server shutting down"
        except Unavailable as exc:
            why = f"redis unavailable for the resume: {exc}"  # the stream ends; EventSource retries
        finally:
            trace.state(f"SSE subscriber {peer} gone after {sent} events ({why})")

    async def ws(websocket: WebSocket) -> None:
        client = websocket.query_params.get("client", "")
        after = websocket.query_params.get("after")
        if not CLIENT_ID.fullmatch(client) or (after and not valid_id(after)):
            await websocket.close(code=1008, reason="want ?client=NAME (letters, digits, - _) [&after=ID]")
            return
        await websocket.accept()
        sockets.add(websocket)
        peer = f"{client}@{peer_of(websocket).rsplit('@', 1)[-1]}"  # the name it gave, and its address
        start = f"after {after}" if after else f"live from {ctx.window.last}"
        trace.state(f"WS {peer} open, feed {start}")
        lock = asyncio.Lock()  # two tasks write to this socket: acks and events

        async def send(text: str) -> None:
            async with lock:
                await websocket.send_text(text)

        async def push() -> None:
            async for batch in subscription(ctx, after or ctx.window.last):
                if isinstance(batch, Gap):
                    await send(json.dumps({"kind": "reset", "requested": batch.requested,
                                           "lost_through": batch.trimmed}))
                    continue
                for event in batch:
                    await send(ws_event(event))

        async def receive() -> None:
            async for text in websocket.iter_text():
                if loud:
                    trace.received(f"WS {peer} {shorten(text, 60)}", [text], peer=client)
                try:
                    message = parse_client_message(text)
                except BadEvent as exc:
                    await send(ws_error(None, str(exc)))  # a bad message costs the client, not the socket
                    continue
                try:
                    stream_id, duplicate = await stream.append_once(f"ws:{client}/{message.id}",
                                                                    message.type, message.data)
                except Unavailable:
                    await send(ws_error(message.id, "redis unavailable; send it again"))
                    continue
                await send(ws_ack(message.id, stream_id, duplicate))
                if loud:
                    trace.sent(f"WS {peer} ack {message.id} -> {stream_id}", peer=client, cid=stream_id)

        tasks = [asyncio.create_task(push()), asyncio.create_task(receive())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if tasks[0] in done and not tasks[0].cancelled():  # the feed ended: tell the client why
                failed = isinstance(tasks[0].exception(), Unavailable)
                await websocket.close(1011 if failed else GOING_AWAY,
                                      "redis unavailable" if failed else "server shutting down")
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client was already gone (Starlette raises RuntimeError for a send after close)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            sockets.discard(websocket)
            trace.state(f"WS {peer} closed")

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"server": settings.server_id, "last_id": ctx.window.last})

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.replace("SERVER", settings.server_id))

    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"]), Route("/events", events),
                            WebSocketRoute("/ws", ws), Route("/healthz", healthz), Route("/", page)],
                    lifespan=lifespan)
    app.state.ctx = ctx
    app.state.begin_shutdown = begin_shutdown
    return app


# The browser's side: EventSource reconnects by itself and sends Last-Event-ID (WHATWG HTML §9.2.3).
PAGE = """<!doctype html>
<meta charset="utf-8"><title>hybrid feed (SERVER)</title>
<p>server SERVER, status <b id="status">connecting</b>, last id <b id="last-id">-</b></p>
<ol id="log"></ol>
<script>
const source = new EventSource("/events");
const log = document.getElementById("log");
function show(e) {
  const li = document.createElement("li");
  li.dataset.id = e.lastEventId;
  li.dataset.type = e.type;
  li.textContent = e.type + " " + e.data;
  log.append(li);
  document.getElementById("last-id").textContent = e.lastEventId;
}
for (const type of ["price", "news", "order", "chat", "reset"]) source.addEventListener(type, show);
source.onopen = () => { document.getElementById("status").textContent = "open"; };
source.onerror = () => { document.getElementById("status").textContent = "connecting"; };
</script>
"""
