"""The SSE web application: the live feed, publishing, stats and the completions API.

Reading order: event_stream -> event_log -> feed -> completions -> **app** -> server;
then client; then the page; then proxy.

``create_app(settings)`` returns a FastAPI app made of four routers (``page_routes``,
``events_routes``, ``publish_routes``, ``completion_routes``) sharing one ``Context``:

- ``GET /`` and ``/page.js``: the browser page (an ``EventSource`` on ``/events``);
- ``GET /healthz``: a JSON status for load balancers and tests;
- ``GET /events``: the live feed as ``text/event-stream`` (sse-starlette's
  ``EventSourceResponse``, the library layer; ``event_stream.py`` is the hand-written one);
- ``POST /publish``: ``{"type": "note", "data": <any JSON>}`` -> ``{"id": "43"}`` (201);
- ``GET /stats``: subscriber counters and the log's id range;
- ``POST /v1/chat/completions``: OpenAI-style token streaming, see ``completions.py``.

What one ``GET /events`` does, in order::

    Last-Event-ID: 41 (header; or ?lastEventId=41)   not digits -> HTTP 400 JSON, no stream
    200 text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no
    retry: 1000                    reconnection delay for EventSource (§9.2.6, "retry" field)
    id: 42 / event: price / data: {...}      the missed events, oldest first, then live ones
    : heartbeat                    a comment every --heartbeat s (§9.2.7 "Authoring notes")

Resuming (WHATWG HTML §9.2.4 "The `Last-Event-ID` header"): the browser sends the
header by itself when it reconnects, so a client that missed ids 42..45 gets exactly
those, then live events.  The header wins over ``?lastEventId=``: a page that passes
the query on its first connection still resumes from the *header* on reconnects.
Without either, the stream starts live (from the current last id).

**The reset signal.**  If the client's id has fallen out of the replay window (or
was never issued: the server lost its data), the missed events cannot be sent.
Instead of pretending, the stream starts with::

    event: reset
    id: 950
    data: {"reason":"last-event-id too old","requested":3,"oldest_available":10,"last_id":950}

and then continues *live*.  The ``id:`` moves the browser's last event id to now, so
its next reconnect does not trip over the same gap again.  The choice: a client that
got ``reset`` must reload its state another way (a snapshot endpoint, a page
reload).  Replaying the rest of the window instead would look complete but hide the
hole.  The same event is sent mid-stream to a subscriber so slow that it fell out of
the window while connected.

**Disconnects.**  The response listens for the ASGI ``http.disconnect`` message
while streaming and cancels the generator at once (sse-starlette's class does it in a
task of its own; ``fast_response.py``'s, the default, in the one task that also sends
the heartbeats); the generator's ``finally`` block records
``= sse      subscriber 127.0.0.1:5555 gone after N events`` and the ``/stats``
counters, so tests can watch a generator stop rather than assume it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import FileResponse, JSONResponse

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace, shorten

from . import completions
from .event_log import Event, EventLog, Gap, LogClosed
from .event_stream import format_event
from .fast_log import PacedEventLog
from .fast_response import LeanEventSourceResponse
from .feed import encode_data, run_feed

STATIC = resources.files("learn_sse") / "static"
SEP = "\n"  # §9.2.5 accepts CRLF, LF or CR; LF is what most servers send and easiest to read
EVENT_ID = re.compile(r"[0-9]{1,18}")  # our ids are decimal integers; anything else is a client bug
EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")  # no CR/LF/':' can reach the event: line
RESERVED_TYPES = {"reset", "message"}  # "reset" is ours; "message" is what an absent event: means
MAX_BODY = 64 * 1024


@dataclass
class Settings:
    data_dir: Path
    tick: float = 1.0  # seconds between feed events; 0 = no feed
    replay: int = 1000  # events kept for Last-Event-ID resumes
    retry_ms: int = 1000  # the retry: hint sent first on every stream
    heartbeat: float = 15.0  # seconds between ": heartbeat" comments; 0 = none
    token_delay: float = 0.02  # seconds before each streamed completion token
    accel_header: bool = True  # False only to demonstrate nginx's buffering (proxy.py)
    lean_response: bool = True  # fast_response.py's class and fast_log.py's bell; False: sse-starlette's
    # own response and the lesson's bell (--plain-response)
    trace: Trace | None = None
    trace_events: bool = True  # False (--quiet): no line per event, subscriber or request
    clock: Callable[[], float] = time.time  # "created" of completions
    completion_id: Callable[[], str] = field(default=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")


@dataclass
class Stats:
    subscribers_active: int = 0
    subscribers_total: int = 0
    generators_stopped: int = 0
    events_sent: int = 0
    completions_streamed: int = 0


def error(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """Every error of this server has OpenAI's shape, not only those of /v1/."""
    return JSONResponse(completions.error_body(message, param, code), status_code=status)


def peer_of(request: Request) -> str:
    client = request.client
    # Behind nginx, uvicorn takes the address from X-Forwarded-For, without a port.
    return (f"{client.host}:{client.port}" if client.port else client.host) if client else "?"


def peer_name(request: Request) -> str | None:
    """The client as it names itself, for the structured events: the first product token of its
    ``User-Agent`` (RFC 9110 §10.1.5): ``client`` for ``client (learn_sse)``, ``curl`` for
    ``curl/8.5.0``; None without one."""
    agent = request.headers.get("user-agent", "").strip()
    return re.split(r"[/\s]", agent, maxsplit=1)[0] if agent else None


@functools.lru_cache(maxsize=4096)
def wire_of(event: Event) -> bytes:
    """The event as it goes on the wire, encoded once however many streams send it.

    Written by our own serializer (``event_stream.format_event``); sse-starlette
    passes bytes through as they are.  The cache holds the recent events, which
    are the ones live streams send; a resume from far back encodes again.
    """
    return format_event(event.data, event=event.type, id=str(event.id)).encode()


def reset_event(gap: Gap, oldest_id: int, last_id: int) -> ServerSentEvent:
    body = {"reason": gap.reason, "requested": gap.requested, "oldest_available": oldest_id,
            "last_id": last_id}
    return ServerSentEvent(data=encode_data(body), event="reset", id=str(last_id), sep=SEP)


@dataclass
class Context:
    """What every route shares: the settings, the trace, the log and the counters."""

    settings: Settings
    trace: Trace
    log: EventLog
    stats: Stats = field(default_factory=Stats)
    feed_task: asyncio.Task[None] | None = None

    @property
    def loud(self) -> bool:
        return self.settings.trace_events

    def begin_shutdown(self) -> None:
        """Stop the feed and end every stream (server.py calls it on SIGTERM)."""
        if self.feed_task is not None:
            self.feed_task.cancel()
        self.log.close()

    def sse_response(self, content: AsyncIterator[ServerSentEvent | bytes]) -> EventSourceResponse:
        kind = LeanEventSourceResponse if self.settings.lean_response else EventSourceResponse
        response = kind(
            content, sep=SEP, ping=self.settings.heartbeat, headers={"Cache-Control": "no-cache"},
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep=SEP))
        if not self.settings.accel_header:
            # sse-starlette always adds it; removing it lets nginx buffer (the pitfall demo).
            del response.headers["X-Accel-Buffering"]
        return response


def create_app(settings: Settings) -> FastAPI:
    """The app: one router per concern, sharing one :class:`Context`; the feed runs in the lifespan."""
    trace = settings.trace or Trace("sse")

    def stored(event: Event) -> None:
        trace.state(f"stored id={event.id} event={event.type} {shorten(event.data, 60)}")

    log_class = PacedEventLog if settings.lean_response else EventLog  # fast_log.py, or the lesson's
    ctx = Context(settings, trace, log_class.open(settings.data_dir, settings.replay,
                                                  stored if settings.trace_events else None))

    def report_feed_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # else asyncio hides it until GC
            trace.state(f"feed stopped by an error: {task.exception()!r}", always=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.tick > 0:
            ctx.feed_task = asyncio.create_task(run_feed(ctx.log, settings.tick), name="feed")
            ctx.feed_task.add_done_callback(report_feed_failure)
        yield
        ctx.begin_shutdown()
        await ctx.log.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.log = ctx.log
    app.state.stats = ctx.stats
    app.state.begin_shutdown = ctx.begin_shutdown
    for router in (page_routes(ctx), events_routes(ctx), publish_routes(ctx), completion_routes(ctx)):
        app.include_router(router)
    return app


def page_routes(ctx: Context) -> APIRouter:
    """``/`` and ``/page.js`` (the browser page), ``/healthz``, ``/stats``."""
    router = APIRouter()

    @router.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @router.get("/page.js")
    async def script() -> FileResponse:
        return FileResponse(str(STATIC / "page.js"), media_type="text/javascript")

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "last_id": ctx.log.last_id})

    @router.get("/stats")
    async def get_stats() -> JSONResponse:
        return JSONResponse({**asdict(ctx.stats), "last_id": ctx.log.last_id, "oldest_id": ctx.log.oldest_id})

    return router


def events_routes(ctx: Context) -> APIRouter:
    """``GET /events``: check the request, then stream :func:`subscribe`."""
    router = APIRouter()

    @router.get("/events")
    async def events(request: Request):
        raw, param = request.headers.get("last-event-id"), "Last-Event-ID"
        if not raw:  # absent or empty: the spec's "no last event id" (§9.2.4)
            raw, param = request.query_params.get("lastEventId"), "lastEventId"
        if raw and not EVENT_ID.fullmatch(raw):
            return error(400, f"{param} must be a decimal event id such as '42', got {shorten(raw, 30)!r}",
                         param, "invalid_last_event_id")
        limit_raw = request.query_params.get("limit")
        if limit_raw is not None and not (limit_raw.isdecimal() and 0 < int(limit_raw) < 10**9):
            return error(400, f"limit must be a positive integer, got {shorten(limit_raw, 30)!r}",
                         "limit", "invalid_limit")
        # A live subscriber's cursor is fixed now, not when its stream starts running:
        # an event stored in between is then sent, not silently skipped.
        cursor = int(raw) if raw else ctx.log.last_id
        limit = int(limit_raw) if limit_raw else None
        if ctx.loud:
            how = f"resumed from id {cursor}" if raw else f"connected, live from id {cursor}"
            ctx.trace.state(f"subscriber {peer_of(request)} {how}", [
                f"{param}: {raw!r}" if raw else "no Last-Event-ID",
                f"limit: {limit}", f"user-agent: {request.headers.get('user-agent', '-')}"])
        return ctx.sse_response(subscribe(ctx, peer_of(request), cursor, limit, peer_name(request)))

    return router


async def subscribe(ctx: Context, peer: str, cursor: int, limit: int | None,
                    who: str | None = None) -> AsyncIterator[ServerSentEvent | bytes]:
    """One client's stream.  ``limit``: end after that many log events (for curl and tests).
    ``peer`` is its address (the text trace), ``who`` its name (the structured events)."""
    log, stats, trace, loud = ctx.log, ctx.stats, ctx.trace, ctx.loud
    stats.subscribers_active += 1
    stats.subscribers_total += 1
    sent, why = 0, "client disconnected"
    try:
        yield ServerSentEvent(retry=ctx.settings.retry_ms, sep=SEP)
        while True:
            missed = log.after(cursor)
            if not isinstance(missed, list):  # a Gap: say so, then carry on live
                if loud:
                    trace.sent(f"{peer} event=reset id={log.last_id} ({missed.reason}: "
                               f"requested {missed.requested})", peer=who, cid=str(log.last_id))
                yield reset_event(missed, log.oldest_id, log.last_id)
                cursor = log.last_id
                continue
            batch = missed if limit is None else missed[:limit - sent]
            if batch:
                if loud:  # with -v, the event's lines on the wire as detail lines
                    for event in batch:
                        wire = wire_of(event).decode().split(SEP)[:-2] if trace.verbose else ()
                        trace.sent(f"{peer} event={event.type} id={event.id} "
                                   f"{shorten(event.data, 50)}", wire, peer=who, cid=str(event.id))
                # Everything this wake-up found goes out as one chunk: one write for a burst.
                yield b"".join(map(wire_of, batch))
                cursor = batch[-1].id
                sent += len(batch)
                stats.events_sent += len(batch)
                if sent == limit:
                    why = f"limit {limit} reached"
                    return
            # Returns at once if more arrived meanwhile: no second look at the window.
            if not await log.wait_beyond(cursor):
                why = "server shutting down"
                return
    finally:
        # Runs on a normal end, on the cancellation the response delivers when the
        # client goes away, and on GeneratorExit if a send fails.
        stats.subscribers_active -= 1
        stats.generators_stopped += 1
        if loud:
            trace.state(f"subscriber {peer} gone after {sent} events ({why})")


def publish_routes(ctx: Context) -> APIRouter:
    """``POST /publish``: validate, append to the log (which wakes every stream)."""
    router = APIRouter()

    @router.post("/publish")
    async def publish(request: Request) -> JSONResponse:
        body = await read_body(request, MAX_BODY)
        if body is None:
            return error(413, f"the body is larger than {MAX_BODY} bytes", None, "too_large")
        try:
            item = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error(400, f"the body is not JSON: {exc}", None, "invalid_json")
        if not isinstance(item, dict) or set(item) != {"type", "data"}:
            return error(400, 'send exactly {"type": "<event type>", "data": <any JSON>}', None,
                         "invalid_shape")
        kind = item["type"]
        if not isinstance(kind, str) or not EVENT_TYPE.fullmatch(kind) or kind in RESERVED_TYPES:
            return error(400, f"type must match {EVENT_TYPE.pattern} and not be one of "
                         f"{sorted(RESERVED_TYPES)}, got {shorten(repr(kind), 40)}", "type", "invalid_type")
        if ctx.loud:
            ctx.trace.received(f"publish from {peer_of(request)}: event={kind}", peer=peer_name(request))
        try:
            event = await ctx.log.append(kind, encode_data(item["data"]))
        except LogClosed:
            return error(503, "the server is shutting down", None, "unavailable")
        return JSONResponse({"id": str(event.id)}, status_code=201)

    return router


def completion_routes(ctx: Context) -> APIRouter:
    """``POST /v1/chat/completions``: one JSON answer, or the chunks of :func:`stream_completion`."""
    router = APIRouter()

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await read_body(request, MAX_BODY)
        if body is None:
            return error(413, f"the body is larger than {MAX_BODY} bytes", None, "too_large")
        try:
            chat = completions.parse_request(body)
        except completions.RequestError as exc:
            if ctx.loud:
                ctx.trace.received(f"completion request from {peer_of(request)} refused: {exc.message}",
                                   peer=peer_name(request))
            return error(400, exc.message, exc.param, exc.code)
        answer = completions.complete(chat, ctx.settings.completion_id(), int(ctx.settings.clock()))
        if ctx.loud:
            ctx.trace.received(f"completion {answer.id} model={chat.model} stream={chat.stream} "
                               f"from {peer_of(request)}", peer=peer_name(request))  # no cid in a request
        if not chat.stream:
            return JSONResponse(completions.completion_object(answer))
        return ctx.sse_response(stream_completion(ctx, answer, peer_name(request)))

    return router


async def stream_completion(ctx: Context, answer: completions.Completion,
                            who: str | None = None) -> AsyncIterator[ServerSentEvent]:
    ctx.stats.completions_streamed += 1
    for i, body in enumerate(completions.stream_chunks(answer)):
        if ctx.settings.token_delay and 1 <= i <= len(answer.tokens):
            await asyncio.sleep(ctx.settings.token_delay)  # the pace of a model producing tokens
        data = completions.encode_chunk(body)
        if ctx.loud:
            ctx.trace.sent(f"{answer.id} chunk {i} {shorten(data[data.find('choices'):], 60)}",
                           peer=who, cid=answer.id)
        yield ServerSentEvent(data=data, sep=SEP)
    if ctx.loud:
        ctx.trace.sent(f"{answer.id} data: {completions.DONE}", peer=who, cid=answer.id)
    yield ServerSentEvent(data=completions.DONE, sep=SEP)
