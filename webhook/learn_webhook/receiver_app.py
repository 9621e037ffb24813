"""The webhook receiver (the subscriber): verify first, record once, answer fast, work later.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
**receiver_app** -> receiver -> demo.

``create_receiver_app(settings)`` returns a FastAPI app of two routers: one webhook endpoint,
``POST /webhook`` (one URL for every event type and both signature schemes; the
type is in the body, or in ``X-GitHub-Event``), and three endpoints for tests and
the demo (``probe_routes``): ``GET /received``, ``POST /control``, ``GET /healthz``.

What one ``POST /webhook`` does, in this order, and why the order matters::

    --fail-first / POST /control    -> 500/503 on purpose (outage tests), nothing read
    read the raw body (<= 1 MiB)    -> 413
    verify the signature            -> 401 {"error": "<reason>"}      nothing parsed, nothing stored
    parse the body as a JSON object -> 400 {"error": "<reason>"}
    record webhook-id in the inbox  -> 200 {"status": "duplicate"}    seen before: not processed again
                                    -> 202 {"status": "accepted"}     committed to disk, then queued
    worker task, later              -> processed_log row (+ --work-delay seconds of "work")

The inbox writes go through ``group_commit.py``: the deliveries that arrive while one
commit is being fsync'ed share the next transaction, and each is answered only once
the transaction that holds its row is on disk (``--group-commit 1``: one each).  The
worker takes every event queued so far and marks them processed the same way.

1. **Raw body, verified before parsing.**  The HMAC covers the bytes as sent
   ("Signature scheme"), so we read ``await request.body()``-style bytes and verify
   those.  Parsing first would mean running a JSON parser on input from anyone on
   the internet, and verifying a re-serialization would fail on the first changed
   space.  A request that fails verification is counted and dropped: it never
   reaches the parser, the inbox or the worker.
2. **Idempotency by webhook-id** (see ``inbox.py``): a provider retries whenever it
   did not see our 2xx, so repeats are normal, not attacks.  A repeat is answered
   200 (a success: "stop retrying") without being processed again.
3. **Answer fast, work later.**  Providers time out (the spec suggests 15-30 s) and
   then retry, so slow work in the request turns into duplicate deliveries.  We
   commit the event and answer 202 at once; a worker task processes the queue.
4. **The 2xx is a promise.**  It is sent only after the inbox row is committed, and
   the commit-then-enqueue step is shielded from cancellation: once the row exists
   the event must reach the queue, or it would sit unprocessed until a restart.

Which scheme: a request with ``webhook-signature`` is checked as Standard Webhooks
(against every ``--secret``: rotation); otherwise, if a GitHub secret is configured,
``X-Hub-Signature-256`` is checked, and ``X-GitHub-Delivery`` is the id.  GitHub
signs the body only, so that path has no replay window (see ``signatures.py``) and
an unsigned delivery id: candour, not a recommendation.

``GET /received``::

    {"events": [{"id": "msg_...", "type": "push", "scheme": "standard", "body": {...}}, ...],
     "counts": {"accepted": 3, "processed": 2, "duplicates": 1, "rejected_signature": 4,
                "rejected_body": 1, "failed_on_purpose": 0},
     "pending": 1}

``events`` are the processed ones, in processing order.  ``accepted`` and
``processed`` come from the inbox (they survive restarts); the other counts are
since this process started.  ``GET /received?events=false`` leaves ``events`` out
(the benchmark polls it: the full list grows with every event).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import JSONResponse

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace, shorten

from .group_commit import DEFAULT_MAX_BATCH, GroupCommit
from .inbox import Inbox, InboxEvent
from .signatures import (
    DEFAULT_TOLERANCE,
    GITHUB_HEADER,
    HEADER_ID,
    HEADER_SIGNATURE,
    MissingHeaders,
    SignatureError,
    verify_github,
    verify_standard,
)

MAX_BODY = 1024 * 1024  # the spec suggests payloads under 20 kB; 1 MiB leaves room and bounds memory
DEFAULT_FAIL_STATUS = 503  # the status of failures on purpose (--fail-status, POST /control)
GITHUB_DELIVERY = "x-github-delivery"
GITHUB_EVENT = "x-github-event"
TRACED_HEADERS = (HEADER_ID, "webhook-timestamp", HEADER_SIGNATURE, GITHUB_HEADER, GITHUB_DELIVERY,
                  GITHUB_EVENT, "content-type", "content-length", "user-agent")
# Who sent a request, in the structured trace events (``peer``): the name the sender's own
# trace uses, known by the User-Agent product it sends (the provider's dispatcher, the demo's
# client).  Anyone else stays unnamed; the webhook-id is the event's ``cid`` either way.
SENDERS = {"wirelab-webhooks": "provider", "wirelab-webhook-demo": "demo"}


def sender(request: Request) -> str | None:
    return SENDERS.get(request.headers.get("user-agent", "").split("/")[0])


@dataclass
class ReceiverSettings:
    data_dir: Path
    secrets: list[str] = field(default_factory=list)  # whsec_...; several while rotating
    github_secret: str | None = None
    tolerance: int = DEFAULT_TOLERANCE  # seconds either side of now (signatures.check_timestamp)
    work_delay: float = 0.0  # seconds of simulated work per event
    fail_first: int = 0  # answer the first N deliveries with fail_status, on purpose
    fail_status: int = DEFAULT_FAIL_STATUS
    verify: bool = True  # False (--no-verify): accept any signature -- only to show what the check stops
    dedup: bool = True  # False (--no-dedup): a repeated webhook-id is stored and processed again
    trace: Trace | None = None
    trace_events: bool = True  # False (--quiet): no line per request or event
    group_commit: int = DEFAULT_MAX_BATCH  # writes per transaction at most; 1: a commit each
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Verified:
    msg_id: str
    scheme: str  # "standard" or "github"


class BodyError(ValueError):
    """The signature was right but the body is not what we accept."""


def authenticate(headers: Mapping[str, str], body: bytes, *, secrets: list[str], github_secret: str | None,
                 now: int, tolerance: int) -> Verified:
    """Pick the scheme by its header, verify, return the delivery id; raise SignatureError if not.

    ``headers`` must look names up case-insensitively (Starlette's ``Headers`` does;
    a plain dict needs lower-case names).
    """
    use_github = bool(github_secret) and HEADER_SIGNATURE not in headers and (
        GITHUB_HEADER in headers or not secrets)
    if not use_github:
        if not secrets:
            raise MissingHeaders("this receiver has no whsec_ secret for webhook-signature")
        return Verified(verify_standard(secrets, headers, body, now=now, tolerance=tolerance), "standard")
    assert github_secret is not None
    verify_github(github_secret, headers.get(GITHUB_HEADER), body)
    delivery = headers.get(GITHUB_DELIVERY)
    if not delivery:
        raise MissingHeaders(f"missing {GITHUB_DELIVERY}")
    return Verified(delivery, "github")


def parse_event(verified: Verified, headers: Mapping[str, str], body: bytes) -> InboxEvent:
    """The verified body as an inbox event; BodyError unless it is a UTF-8 JSON object."""
    try:
        text = body.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BodyError("body must be a JSON object")
    if verified.scheme == "github":
        kind = headers.get(GITHUB_EVENT) or "-"
    else:  # Standard Webhooks "Payload structure": a full-stop delimited "type"
        kind = payload.get("type") if isinstance(payload.get("type"), str) else "-"
    return InboxEvent(verified.msg_id, kind, text, verified.scheme)


@dataclass
class Counters:
    """Per-process counts; ``accepted`` and ``processed`` live in the inbox instead."""

    duplicates: int = 0
    rejected_signature: int = 0
    rejected_body: int = 0
    failed_on_purpose: int = 0


@dataclass
class FailSwitch:
    """Failure on purpose, for retry and outage tests: the first N requests, or until switched off."""

    first: int = 0
    on: bool = False
    status: int = DEFAULT_FAIL_STATUS
    retry_after: int | None = None

    def take(self) -> bool:
        if self.first > 0:
            self.first -= 1
            return True
        return self.on


@dataclass
class Context:
    """What the routes and the worker share: the inbox, the work queue, counters, the fail switch."""

    settings: ReceiverSettings
    trace: Trace
    inbox: Inbox
    commits: GroupCommit
    queue: asyncio.Queue[InboxEvent] = field(default_factory=asyncio.Queue)
    counters: Counters = field(default_factory=Counters)
    fail: FailSwitch = field(default_factory=FailSwitch)
    serial: int = 0  # --no-dedup's fresh keys

    @property
    def loud(self) -> bool:
        return self.settings.trace_events

    def now(self) -> int:
        return int(self.settings.clock())

    def inbox_serial(self) -> int:
        self.serial += 1
        return self.serial


def create_receiver_app(settings: ReceiverSettings) -> FastAPI:
    """The receiver: the webhook route and the test routes, sharing one :class:`Context`."""
    trace = settings.trace or Trace("receiver")
    inbox = Inbox.open(settings.data_dir)
    ctx = Context(settings, trace, inbox, GroupCommit(inbox.write_batch, settings.group_commit),
                  fail=FailSwitch(first=settings.fail_first, status=settings.fail_status))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Recovery: whatever was accepted (answered 2xx) but not processed before the
        # last exit or crash goes back on the queue before new requests are served.
        pending = await asyncio.to_thread(ctx.inbox.unprocessed)
        for event in pending:
            ctx.queue.put_nowait(event)
        if pending:
            trace.state(f"inbox: {len(pending)} accepted but unprocessed event(s) queued again")
        worker = asyncio.create_task(work(ctx), name="worker")
        yield
        worker.cancel()  # unfinished events stay processed = 0 in the inbox for next time
        await asyncio.gather(worker, return_exceptions=True)
        await asyncio.to_thread(ctx.inbox.close)

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.inbox = ctx.inbox
    app.include_router(webhook_routes(ctx))
    app.include_router(probe_routes(ctx))
    return app


async def work(ctx: Context) -> None:
    """Process queued events in the order they were accepted, as many at a time as are queued.

    Their ``processed`` marks go to the group commit together (in this order), so a
    burst of events costs one transaction, not one each.  Each mark is still all or
    nothing: a crash leaves an event processed or not, never half.
    """
    while True:
        events = [await ctx.queue.get()]
        while len(events) < ctx.commits.max_batch and not ctx.queue.empty():
            events.append(ctx.queue.get_nowait())
        marks = []
        for event in events:
            if ctx.settings.work_delay:
                await asyncio.sleep(ctx.settings.work_delay)  # stands in for real, slow work
            marks.append(ctx.commits.write(ctx.inbox.processing(event.msg_id, ctx.now())))
        for event, done in zip(events, await asyncio.gather(*marks, return_exceptions=True), strict=True):
            if isinstance(done, Exception):  # one bad event must not stop the worker
                # The row keeps processed = 0, so the next start-up tries it again.
                ctx.trace.state(f"processing {event.msg_id} failed: {done!r}", always=True)
            elif done and ctx.loud:
                ctx.trace.state(f"processed {event.msg_id} type={event.type}")


def webhook_routes(ctx: Context) -> APIRouter:
    """``POST /webhook``: fail on purpose, or read, verify, parse, record once, answer."""
    router, trace, settings, counters = APIRouter(), ctx.trace, ctx.settings, ctx.counters

    def detail(request: Request, body: bytes) -> list[str]:
        if not trace.verbose:
            return []
        lines = [f"{name}: {request.headers[name]}" for name in TRACED_HEADERS if name in request.headers]
        return [*lines, f"body: {shorten(body, 100)}"]

    def refuse(status: int, reason: str, request: Request, cid: str | None = None) -> JSONResponse:
        if ctx.loud:
            trace.sent(f"{status} {reason}", peer=sender(request), cid=cid)
        return JSONResponse({"error": reason}, status_code=status)

    async def record(event: InboxEvent, request: Request) -> bool:
        """Commit, then queue: shielded by the caller, so the two steps never come apart."""
        cid = event.msg_id
        if not settings.dedup:  # a fresh key per request: the repeat is not recognised
            event = replace(event, msg_id=f"{event.msg_id}#{ctx.inbox_serial()}")
        new = await ctx.commits.write(ctx.inbox.acceptance(event, ctx.now()))  # on disk when this returns
        if new:
            if ctx.loud:  # before the worker can run, so the trace reads in causal order
                trace.sent("202 accepted", peer=sender(request), cid=cid)
            ctx.queue.put_nowait(event)
        return new

    @router.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        mid = request.headers.get(HEADER_ID) or request.headers.get(GITHUB_DELIVERY)  # the trace's cid
        claimed = mid or "-"
        if ctx.fail.take():
            counters.failed_on_purpose += 1
            if ctx.loud:
                trace.received("POST /webhook (failing on purpose: not read)", peer=sender(request), cid=mid)
            response = refuse(ctx.fail.status, "failing on purpose", request, mid)
            if ctx.fail.retry_after is not None:
                response.headers["Retry-After"] = str(ctx.fail.retry_after)
            return response
        body = await read_body(request, MAX_BODY)
        if body is None:
            return refuse(413, f"body larger than {MAX_BODY} bytes", request, mid)
        try:
            verified = Verified(claimed, "none") if not settings.verify else authenticate(
                request.headers, body, secrets=settings.secrets, github_secret=settings.github_secret,
                now=ctx.now(), tolerance=settings.tolerance)
        except SignatureError as exc:
            counters.rejected_signature += 1
            if ctx.loud:
                trace.received(f"POST /webhook id={shorten(claimed, 40)} ({exc.reason})",
                               detail(request, body), peer=sender(request), cid=mid)
            return refuse(401, exc.reason, request, mid)
        try:
            event = parse_event(verified, request.headers, body)
        except BodyError as exc:
            counters.rejected_body += 1
            if ctx.loud:
                trace.received(f"POST /webhook id={shorten(verified.msg_id, 40)} (signature ok, bad body)",
                               detail(request, body), peer=sender(request), cid=verified.msg_id)
            return refuse(400, str(exc), request, verified.msg_id)
        if ctx.loud:
            trace.received(f"POST /webhook id={shorten(event.msg_id, 40)} type={shorten(event.type, 40)} "
                           f"(signature ok)", detail(request, body), peer=sender(request), cid=event.msg_id)
        # shield: if the client goes away while we commit, the request task may be
        # cancelled, but the row and its queue entry must still come together.
        if await asyncio.shield(record(event, request)):
            return JSONResponse({"status": "accepted", "id": event.msg_id}, status_code=202)
        counters.duplicates += 1
        if ctx.loud:
            trace.sent(f"200 duplicate {shorten(event.msg_id, 40)}", peer=sender(request), cid=event.msg_id)
        return JSONResponse({"status": "duplicate", "id": event.msg_id}, status_code=200)

    return router


def probe_routes(ctx: Context) -> APIRouter:
    """``GET /received``, ``POST /control``, ``GET /healthz``: for tests and the demo."""
    router, fail = APIRouter(), ctx.fail

    @router.get("/received")
    async def received(events: bool = True) -> JSONResponse:
        """``?events=false``: the counts alone (a poller's cheap question: "done yet?")."""
        if not events:
            stored = await asyncio.to_thread(ctx.inbox.counts)
            return JSONResponse({"counts": {**stored, **asdict(ctx.counters)},
                                 "pending": stored["accepted"] - stored["processed"]})
        processed, stored = await asyncio.to_thread(ctx.inbox.snapshot)
        return JSONResponse({
            "events": [{"id": e.msg_id, "type": e.type, "scheme": e.scheme, "body": json.loads(e.body)}
                       for e in processed],
            "counts": {**stored, **asdict(ctx.counters)},
            "pending": stored["accepted"] - stored["processed"],
        })

    @router.post("/control")
    async def control(request: Request) -> JSONResponse:
        """``{"fail": true, "status": 503, "retry_after": 2}`` / ``{"fail": false}``: a test hook."""
        try:
            order = json.loads(await request.body())
            status = int(order.get("status", fail.status))
            retry_after = order.get("retry_after")
            if not isinstance(order.get("fail"), bool) or not 400 <= status <= 599:
                raise ValueError
            retry_after = None if retry_after is None else int(retry_after)
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": 'send {"fail": true|false, "status": 4xx|5xx, '
                                          '"retry_after": seconds|null}'}, status_code=400)
        fail.on, fail.status, fail.retry_after = order["fail"], status, retry_after
        ctx.trace.state(f"control: fail={fail.on} status={fail.status} retry_after={fail.retry_after}")
        return JSONResponse({"fail": fail.on, "status": fail.status, "retry_after": fail.retry_after})

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "queued": ctx.queue.qsize(),
                             "group_commit": ctx.commits.stats()})

    return router
