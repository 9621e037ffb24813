"""The provider's HTTP API: register endpoints, publish events, watch and replay deliveries.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> **provider_app** -> provider -> inbox ->
receiver_app -> receiver -> demo.

``create_app(settings)`` returns a FastAPI app of three routers (``subscription_routes``,
``event_routes``, ``delivery_routes``); the dispatcher runs in its lifespan.
Errors have one shape, ``{"error": {"code": "...", "message": "..."}}``::

    POST /subscriptions {"url": "https://...", "event_types": ["invoice.paid"], "github": true}
        -> 201 {"id": "sub_...", "url", "event_types", "secret": "whsec_...", "github_secret": "..."}
        -> 400 url_refused (ssrf_guard: private address, bad scheme, credentials in the URL)
    GET  /subscriptions                      -> 200 {"subscriptions": [...]}   (no secrets)
    POST /subscriptions/{id}/rotate          -> 200 {"id", "secret": <new>, "previous_expire_at"}
    POST /events {"type": "invoice.paid", "payload": {...}}
        -> 202 {"event_id": "evt_...", "deliveries": ["msg_...", ...]}   stored before the answer
    GET  /deliveries?state=DEAD&limit=100    -> 200 {"deliveries": [...], "counts": {...}}
    GET  /deliveries/{id}                    -> 200 the delivery with its "attempt_log"
    POST /deliveries/{id}/redeliver          -> 202 the delivery, PENDING again (409 if it still is)
    POST /dead-letters/redeliver             -> 202 {"redelivered": ["msg_...", ...]}
    GET  /healthz                            -> 200 {"status": "ok", "counts", "in_flight", "group_commit"}

Why 202 for ``/events``: the answer says "stored, will be delivered", not
"delivered" (RFC 9110 §15.3.3).  The event and its deliveries are committed (and
fsync'ed) first: after the 202 they survive a crash (outbox.py).  Concurrent events
share a commit (``group_commit.py``): each is answered once the transaction that
holds it is on disk.  Event types
follow the spec's advice (Standard Webhooks, "Event types"): full-stop delimited
identifiers of ``[a-zA-Z0-9_]``; a subscription may filter on them, so receivers
get only what they asked for ("It is also recommended to ... do the filtering on
the producing end").  Replaying failures by hand is the spec's "Visibility into
failures and manual retries".

Candour: this API has no authentication.  In production every route here belongs
to one tenant, behind the provider's API keys, and a subscription's secret is shown
once and then only on rotation.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.responses import JSONResponse

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace

from .dispatcher import DEFAULT_CONCURRENCY, DEFAULT_HTTP_CLIENT, DEFAULT_TIMEOUT, Dispatcher
from .group_commit import DEFAULT_MAX_BATCH, GroupCommit
from .outbox import IllegalTransition, NotFound, Outbox, State
from .retry_schedule import RetryPolicy
from .signatures import new_secret
from .ssrf_guard import IPNetwork, TargetGuard, TargetRefused

# Who asked, in the structured trace events (``peer``): the demo's client, by its User-Agent.
SENDERS = {"wirelab-webhook-demo": "demo"}


def sender(request: Request) -> str | None:
    return SENDERS.get(request.headers.get("user-agent", "").split("/")[0])

MAX_BODY = 64 * 1024  # the spec recommends payloads under 20 kB
DEFAULT_ROTATION_GRACE = 24 * 3600.0  # seconds an old secret still signs after a rotation
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", max_length=100)]


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1)  # None: every type
    github: bool = False  # also sign with GitHub's X-Hub-Signature-256


class NewEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: EventType
    payload: Any = None  # any JSON value


@dataclass
class Settings:
    data_dir: Path
    allowed: tuple[IPNetwork, ...] = ()  # --allow-target networks, exempt from the SSRF guard
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    per_endpoint: int | None = None  # attempts in flight to one endpoint; None: up to `concurrency`
    http_client: str = DEFAULT_HTTP_CLIENT  # "lean" or "httpx" (dispatcher.py)
    group_commit: int = DEFAULT_MAX_BATCH  # outbox writes per transaction at most; 1: a commit each
    rng: random.Random = field(default_factory=random.Random)
    rotation_grace: float = DEFAULT_ROTATION_GRACE
    shutdown_grace: float = 2.0  # seconds in-flight attempts get on SIGTERM
    trace: Trace | None = None
    trace_events: bool = True  # False (--quiet): no line per request or attempt
    clock: Callable[[], float] = time.time


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def parse(request: Request, model: type[BaseModel]) -> BaseModel | JSONResponse:
    """The body as ``model``, or the error response that says what is wrong with it."""
    body = await read_body(request, MAX_BODY)
    if body is None:
        return error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        if any(p["type"] == "json_invalid" for p in problems):
            return error(400, "invalid_json", f"the body is not JSON: {problems[0]['msg']}")
        return error(422, "invalid_request", explain(problems))


def explain(problems: list[Any]) -> str:
    """Pydantic's error list as one sentence per field: ``event_types.0: String should match...``."""
    return "; ".join(f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in problems)


@dataclass
class Context:
    """What every route shares: settings, trace, the SSRF guard, the outbox, the dispatcher."""

    settings: Settings
    trace: Trace
    guard: TargetGuard
    outbox: Outbox
    commits: GroupCommit
    dispatcher: Dispatcher

    @property
    def loud(self) -> bool:
        return self.settings.trace_events


def create_app(settings: Settings) -> FastAPI:
    """The API: three routers sharing one :class:`Context`; the dispatcher runs in the lifespan."""
    trace = settings.trace or Trace("provider")
    guard = TargetGuard(settings.allowed)
    outbox = Outbox.open(settings.data_dir, clock=settings.clock)
    # One group commit for both writes of the hot path: new events (the API) and attempt
    # outcomes (the dispatcher) share transactions, one fsync each (group_commit.py).
    commits = GroupCommit(outbox.write_batch, settings.group_commit)
    dispatcher = Dispatcher(outbox, settings.policy, guard, concurrency=settings.concurrency,
                            timeout=settings.timeout, rng=settings.rng, clock=settings.clock, trace=trace,
                            loud=settings.trace_events, http_client=settings.http_client,
                            per_endpoint=settings.per_endpoint, commits=commits)
    ctx = Context(settings, trace, guard, outbox, commits, dispatcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(dispatcher.run(), name="dispatcher")  # resumes PENDING rows first
        task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or trace.state(
            f"dispatcher stopped by an error: {t.exception()!r}", always=True))
        yield
        await dispatcher.stop(settings.shutdown_grace)  # SIGTERM: no new attempts; in-flight get a grace
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(outbox.close)

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.outbox = outbox
    app.state.dispatcher = dispatcher

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "invalid_request", explain(list(exc.errors())))  # e.g. ?limit=abc

    for router in (subscription_routes(ctx), event_routes(ctx), delivery_routes(ctx)):
        app.include_router(router)
    return app


def subscription_routes(ctx: Context) -> APIRouter:
    """Register an endpoint (through the SSRF guard), list them, rotate a secret."""
    router, outbox, trace = APIRouter(), ctx.outbox, ctx.trace

    @router.post("/subscriptions")
    async def add_subscription(request: Request) -> JSONResponse:
        new = await parse(request, NewSubscription)
        if isinstance(new, JSONResponse):
            return new
        assert isinstance(new, NewSubscription)
        try:
            await asyncio.to_thread(ctx.guard.check, new.url)  # resolving may take a while: not on the loop
        except TargetRefused as exc:
            if ctx.loud:
                trace.received(f"subscription for {new.url} refused: {exc}", peer=sender(request))
            return error(400, "url_refused", f"{new.url} cannot be a webhook target: {exc}")
        github_secret = secrets.token_urlsafe(24) if new.github else None
        sub = await asyncio.to_thread(outbox.add_subscription, new.url, new_secret(), github_secret,
                                      new.event_types)
        if ctx.loud:
            types = ",".join(sub["event_types"]) if sub["event_types"] else "every type"
            trace.state(f"subscription {sub['id']} -> {sub['url']} ({types})")
        return JSONResponse({"id": sub["id"], "url": sub["url"], "event_types": sub["event_types"],
                             "secret": sub["secrets"][0]["secret"], "github_secret": github_secret},
                            status_code=201)

    @router.get("/subscriptions")
    async def list_subscriptions() -> JSONResponse:
        subs = await asyncio.to_thread(outbox.subscriptions)
        return JSONResponse({"subscriptions": [
            {"id": s["id"], "url": s["url"], "event_types": s["event_types"], "created": s["created"],
             "secrets": len(s["secrets"]), "github": s["github_secret"] is not None} for s in subs]})

    @router.post("/subscriptions/{sub_id}/rotate")
    async def rotate(sub_id: str) -> JSONResponse:
        try:
            sub = await asyncio.to_thread(outbox.rotate_secret, sub_id, new_secret(),
                                          ctx.settings.rotation_grace)
        except NotFound as exc:
            return error(404, "not_found", str(exc))
        if ctx.loud:
            trace.state(f"subscription {sub_id}: secret rotated, {len(sub['secrets'])} signing")
        expiries = [s["expires"] for s in sub["secrets"][1:]]
        return JSONResponse({"id": sub_id, "secret": sub["secrets"][0]["secret"],
                             "previous_expire_at": max(expiries) if expiries else None})

    return router


def event_routes(ctx: Context) -> APIRouter:
    """``POST /events``: store the event and its deliveries, wake the dispatcher, answer 202."""
    router = APIRouter()

    async def store(type_: str, payload: Any) -> tuple[str, list[str]]:
        # Returns once the transaction holding this event is on disk: with the other events
        # and attempt outcomes that were waiting while the previous commit was fsync'ed.
        stored = await ctx.commits.write(ctx.outbox.new_event(type_, payload))
        ctx.dispatcher.wake()
        return stored

    @router.post("/events")
    async def add_event(request: Request) -> JSONResponse:
        new = await parse(request, NewEvent)
        if isinstance(new, JSONResponse):
            return new
        assert isinstance(new, NewEvent)
        # shield: once the commit may have happened, the dispatcher must hear of it even
        # if this request is cancelled (the client went away).
        event_id, deliveries = await asyncio.shield(store(new.type, new.payload))
        if ctx.loud:
            ctx.trace.state(f"stored {event_id} type={new.type} -> {len(deliveries)} delivery(ies)")
        return JSONResponse({"event_id": event_id, "deliveries": deliveries}, status_code=202)

    return router


def delivery_routes(ctx: Context) -> APIRouter:
    """The delivery log, redelivery by hand, dead letters, and ``/healthz``."""
    router, outbox, dispatcher, trace = APIRouter(), ctx.outbox, ctx.dispatcher, ctx.trace

    @router.get("/deliveries")
    async def list_deliveries(state: str | None = None, limit: int = 100) -> JSONResponse:
        if state is not None and state.upper() not in State.__members__:
            return error(400, "invalid_state", f"state must be one of {', '.join(State)}, got {state!r}")
        if not 1 <= limit <= 10000:
            return error(400, "invalid_limit", f"limit must be between 1 and 10000, got {limit}")
        chosen = State(state.upper()) if state else None
        rows, counts = await asyncio.gather(asyncio.to_thread(outbox.deliveries, chosen, limit),
                                            asyncio.to_thread(outbox.counts))
        return JSONResponse({"deliveries": rows, "counts": counts})

    @router.get("/deliveries/{delivery_id}")
    async def get_delivery(delivery_id: str) -> JSONResponse:
        try:
            return JSONResponse(await asyncio.to_thread(outbox.delivery, delivery_id))
        except NotFound as exc:
            return error(404, "not_found", str(exc))

    @router.post("/deliveries/{delivery_id}/redeliver")
    async def redeliver(delivery_id: str) -> JSONResponse:
        try:
            row = await asyncio.to_thread(outbox.redeliver, delivery_id)
        except NotFound as exc:
            return error(404, "not_found", str(exc))
        except IllegalTransition as exc:
            return error(409, "already_pending", f"{exc}: it is still being retried")
        dispatcher.wake()
        if ctx.loud:
            trace.state(f"{delivery_id} redelivery requested: PENDING again, same webhook-id")
        return JSONResponse(row, status_code=202)

    @router.post("/dead-letters/redeliver")
    async def redeliver_dead() -> JSONResponse:
        ids = await asyncio.to_thread(outbox.redeliver_dead)
        dispatcher.wake()
        if ctx.loud:
            trace.state(f"{len(ids)} dead delivery(ies) PENDING again, same webhook-ids")
        return JSONResponse({"redelivered": ids}, status_code=202)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        counts = await asyncio.to_thread(outbox.counts)
        return JSONResponse({"status": "ok", "counts": counts, "in_flight": dispatcher.in_flight,
                             "attempts_made": dispatcher.attempts_made, "group_commit": ctx.commits.stats()})

    return router
