"""The queue's HTTP API: enqueue jobs, look them up, and look after the dead set.

Reading order: job -> client -> jobs -> worker -> ... -> **web_app** -> web.

``create_app(settings)`` returns a FastAPI app that only talks to Redis: it
never runs a job, so any number of web processes can sit beside the workers.
Each route is one small handler below; what they share (the Redis client, the
key names, the trace, the two scripts) is one :class:`Api` in the app's state.
Errors have one shape, ``{"error": {"code": "...", "message": "..."}}``::

    POST /jobs {"class": "checksum", "args": [...], "queue": "default", "at": 1767225600.0}
                                          ("in": 30 instead of "at"; "retry": 5; "timeout": 10)
        -> 201 {"jid": "<24 hex>", "status": "queued" | "scheduled"}
        -> 400 unknown_class (the message lists the known ones), 422 invalid_request
    GET  /jobs/{jid}          -> 200 {"jid", "status", "result", "error", "updated"}   404 unknown
    GET  /queues              -> 200 {"queues": [{"name", "size"}], "workers": [...], ...}
    GET  /scheduled?limit=100 -> 200 {"jobs": [job + "at"]}     lq:schedule, first runs
    GET  /retries?limit=100   -> 200 {"jobs": [job + "at"]}     lq:schedule, retry_count > 0
    GET  /dead?limit=100      -> 200 {"jobs": [job + "died_at"]}
    POST /dead/{jid}/retry    -> 200 {"jid", "status": "queued"}   404 if not (or no longer) dead
    DELETE /dead/{jid}        -> 200 {"jid", "status": "deleted"}  404 likewise
    GET  /healthz             -> 200 {"status": "ok"}    503 when Redis does not answer

Why the dead-set moves are scripts: two operators may press "retry" on the same
job, or one "retry" and the other "delete".  ``ZREM`` answers 1 to exactly one
of them, so the script pushes the job only if its own ``ZREM`` removed it; the
job can never run twice nor vanish (Redis runs a script alone).  The retry is
``client.MOVE_TO_QUEUE``, the script the scheduler uses for due jobs.

All keys are in ``WebSettings.namespace`` (``--namespace``, default ``lq``): the
API sees only the queues, workers and jobs of that namespace.

Candour: finding a job in ``lq:dead`` by jid reads the whole set (Sidekiq's UI
keys its links by score *and* jid to avoid that); there is no authentication,
and no paging beyond ``limit``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.responses import JSONResponse

from wirelab_common.asgi_server import read_body
from wirelab_common.wiretrace import Trace

from .client import DEFAULT_NAMESPACE, MOVE_TO_QUEUE, Keys, enqueue, job_status
from .job import JobFormatError, decode, encode
from .jobs import REGISTRY

MAX_BODY = 64 * 1024
QUEUE_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
# Clients the trace events can name (``peer``): the User-Agent product -> the name the
# client's own trace uses.  Other clients (curl, a browser) stay unnamed.
SENDERS = {"wirelab-queue-demo": "demo"}
Limit = Annotated[int, Query(ge=1, le=1000)]

# KEYS: lq:dead, lq:job:<jid>   ARGV: the dead member as stored
DELETE_DEAD = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""


class NewJob(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo ("qeue") is an error, not a default
    class_: str = Field(alias="class", min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list)
    queue: str = Field(default="default", pattern=QUEUE_NAME)
    at: float | None = Field(default=None, gt=0)  # unix time
    in_: float | None = Field(default=None, alias="in", ge=0)  # seconds from now
    retry: int = Field(default=5, ge=0, le=25)
    timeout: float | None = Field(default=None, gt=0)


@dataclass
class WebSettings:
    redis_url: str
    trace: Trace | None = None
    trace_events: bool = True  # False (--quiet): no line per request
    clock: Callable[[], float] = time.time
    namespace: str = DEFAULT_NAMESPACE  # --namespace: the first part of every key


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def explain(problems: Any) -> str:
    """Pydantic's error list as one clause per field: ``queue: String should match ...``."""
    return "; ".join(f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in problems)


def known_classes() -> dict[str, str]:
    """Short name -> registered dotted name ("checksum" -> "learn_queue.jobs.checksum").

    Only ``jobs.REGISTRY`` counts, as in the worker: an HTTP client must never be
    able to name an arbitrary importable callable.
    """
    return {name.rsplit(".", 1)[-1]: name for name in REGISTRY}


def listed(member: str, score: float, when: str) -> dict[str, Any]:
    """One sorted-set member for the UI: the job's fields plus its score as a time."""
    try:
        decode(member)  # the same checks a worker makes
    except JobFormatError as exc:
        return {"malformed": member[:200], "problem": str(exc), when: score}
    return {**json.loads(member), when: score}  # the stored fields, as stored


async def find_dead(redis: aioredis.Redis, keys: Keys, jid: str) -> str | None:
    """The member of ``lq:dead`` whose jid is ``jid``, exactly as stored (ZREM needs the bytes)."""
    for member in await redis.zrange(keys.dead, 0, -1):
        try:
            if decode(member).jid == jid:
                return member
        except JobFormatError:
            continue  # a malformed member is listed by GET /dead, never matched
    return None


@dataclass
class Api:
    """What every handler needs, made once per app by :func:`create_app`: ``request.app.state.api``."""

    settings: WebSettings
    redis: aioredis.Redis
    keys: Keys
    trace: Trace
    retry_dead: AsyncScript  # client.MOVE_TO_QUEUE
    delete_dead: AsyncScript  # DELETE_DEAD

    def event(self, mark: str, summary: str, request: Request | None = None, jid: str | None = None) -> None:
        """One trace line per change, unless ``trace_events`` is off (``--quiet``).

        For a request or its answer, the structured events name the client (``peer``) by
        its User-Agent (:data:`SENDERS`) and the job by its id (``cid``).
        """
        if not self.settings.trace_events:
            return
        if request is None:
            getattr(self.trace, mark)(summary)
        else:
            peer = SENDERS.get(request.headers.get("user-agent", "").split("/")[0])
            getattr(self.trace, mark)(summary, peer=peer, cid=jid)


def api_of(request: Request) -> Api:
    return request.app.state.api


def create_app(settings: WebSettings) -> FastAPI:
    """The app: one :class:`Api` in its state, the handlers below, our two error shapes."""
    # A restart of Redis leaves every pooled connection dead, and redis-py's asyncio client
    # retries nothing by default: without this, each dead connection would cost one request a
    # 503.  A retried command may run twice if only its reply was lost (at least once, as the
    # queue promises everywhere); a longer outage still ends in the 503 below.
    redis = aioredis.from_url(settings.redis_url, decode_responses=True,
                              retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 6),
                              retry_on_error=[RedisConnectionError, RedisTimeoutError])
    api = Api(settings, redis, Keys(settings.namespace), settings.trace or Trace("web"),
              redis.register_script(MOVE_TO_QUEUE), redis.register_script(DELETE_DEAD))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app = FastAPI(title="learn_queue", lifespan=lifespan)
    app.state.api = api
    app.add_exception_handler(RedisError, redis_down)
    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(router)
    return app


async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    api_of(request).trace.state(f"Redis error on {request.method} {request.url.path}: {exc}")
    return error(503, "redis_unavailable", f"Redis did not answer: {exc}")


async def invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error(422, "invalid_request", explain(exc.errors()))  # e.g. ?limit=0, in our shape


router = APIRouter()


@router.post("/jobs")
async def post_job(request: Request) -> JSONResponse:
    api = api_of(request)
    body = await read_body(request, MAX_BODY)
    if body is None:
        return error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        new = NewJob.model_validate_json(body)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        if any(p["type"] == "json_invalid" for p in problems):
            return error(400, "invalid_json", f"the body is not JSON: {problems[0]['msg']}")
        return error(422, "invalid_request", explain(problems))
    if new.at is not None and new.in_ is not None:
        return error(422, "invalid_request", 'give "at" (a unix time) or "in" (seconds), not both')
    known = known_classes()
    short = new.class_.rsplit(".", 1)[-1] if new.class_ in known.values() else new.class_
    if short not in known:
        return error(400, "unknown_class", f"no job class {new.class_!r}; known: {', '.join(sorted(known))}")
    at = api.settings.clock() + new.in_ if new.in_ is not None else new.at
    job = await enqueue(api.redis, known[short], new.args, queue=new.queue, at=at, retry=new.retry,
                        timeout=new.timeout, keys=api.keys, clock=api.settings.clock)
    status = "queued" if at is None else "scheduled"  # what client.enqueue stored
    api.event("received", f"POST /jobs class={short} queue={new.queue}", request, job.jid)
    api.event("sent", f"201 jid={job.jid} {status}", request, job.jid)
    return JSONResponse({"jid": job.jid, "status": status}, status_code=201)


@router.get("/jobs/{jid}")
async def get_job(request: Request, jid: str) -> JSONResponse:
    api = api_of(request)
    fields = await job_status(api.redis, jid, api.keys)
    if fields is None:
        return error(404, "not_found", f"no job {jid!r} (never enqueued, deleted, or expired)")
    return JSONResponse({"jid": jid, "status": fields.get("status"), "result": fields.get("result"),
                         "error": fields.get("error"), "updated": fields.get("updated")})


@router.get("/queues")
async def get_queues(request: Request) -> JSONResponse:
    redis, keys = api_of(request).redis, api_of(request).keys
    names = sorted(await redis.smembers(keys.queues))
    worker_ids = sorted(await redis.smembers(keys.workers))
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(keys.queue(name))
        for worker in worker_ids:
            pipe.exists(keys.heartbeat(worker))
            pipe.llen(keys.processing(worker))
        pipe.zcard(keys.schedule)
        pipe.zcard(keys.dead)
        answers = await pipe.execute()
    sizes, rest = answers[:len(names)], answers[len(names):]
    workers = [{"id": worker, "alive": bool(rest[2 * i]), "processing": rest[2 * i + 1]}
               for i, worker in enumerate(worker_ids)]
    return JSONResponse({
        "queues": [{"name": n, "size": s} for n, s in zip(names, sizes, strict=True)],
        "workers": workers,
        "processing": sum(w["processing"] for w in workers),
        "workers_alive": sum(w["alive"] for w in workers),
        "scheduled": rest[-2], "dead": rest[-1]})


async def schedule_members(api: Api, retries: bool, limit: int) -> list[dict[str, Any]]:
    """Members of lq:schedule: first runs (``retries=False``) or retries, soonest first."""
    jobs = []
    for member, score in await api.redis.zrange(api.keys.schedule, 0, -1, withscores=True):
        job = listed(member, score, "at")
        if bool(job.get("retry_count")) == retries:
            jobs.append(job)
            if len(jobs) >= limit:
                break
    return jobs


@router.get("/scheduled")
async def get_scheduled(request: Request, limit: Limit = 100) -> dict[str, Any]:
    return {"jobs": await schedule_members(api_of(request), False, limit)}


@router.get("/retries")
async def get_retries(request: Request, limit: Limit = 100) -> dict[str, Any]:
    return {"jobs": await schedule_members(api_of(request), True, limit)}


@router.get("/dead")
async def get_dead(request: Request, limit: Limit = 100) -> dict[str, Any]:
    api = api_of(request)
    # Newest deaths first, as an operator looks for what just broke.
    members = await api.redis.zrange(api.keys.dead, 0, limit - 1, desc=True, withscores=True)
    return {"jobs": [listed(member, score, "died_at") for member, score in members]}


@router.post("/dead/{jid}/retry")
async def retry_dead_job(request: Request, jid: str) -> JSONResponse:
    api = api_of(request)
    keys, now = api.keys, api.settings.clock()
    member = await find_dead(api.redis, keys, jid)
    if member is None:
        return error(404, "not_found", f"job {jid!r} is not in the dead set")
    job = decode(member)
    job.retry_count = None  # a fresh set of retries; the last error stays for reading
    job.enqueued_at = now
    moved = await api.retry_dead(keys=[keys.dead, keys.queue(job.queue), keys.queues, keys.job(jid)],
                                 args=[member, encode(job), job.queue, now])
    if not moved:  # someone else retried or deleted it between our read and the script
        return error(404, "not_found", f"job {jid!r} left the dead set meanwhile")
    api.event("state", f"dead job {jid} back on queue {job.queue}")
    return JSONResponse({"jid": jid, "status": "queued", "queue": job.queue})


@router.delete("/dead/{jid}")
async def delete_dead_job(request: Request, jid: str) -> JSONResponse:
    api = api_of(request)
    member = await find_dead(api.redis, api.keys, jid)
    if member is None or not await api.delete_dead(keys=[api.keys.dead, api.keys.job(jid)], args=[member]):
        return error(404, "not_found", f"job {jid!r} is not in the dead set")
    api.event("state", f"dead job {jid} deleted")
    return JSONResponse({"jid": jid, "status": "deleted"})


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    await api_of(request).redis.ping()  # a RedisError becomes the 503 of redis_down
    return JSONResponse({"status": "ok"})
