"""The registry of job functions: the only code a worker will run.

Reading order: job -> client -> **jobs** -> worker (fetch, run, retry) -> outage ->
scheduler / reaper -> web.

A job names its function by a dotted path (``learn_queue.jobs.checksum``).  The
worker looks that name up in :data:`REGISTRY` and nowhere else.  It never does
``importlib.import_module(path)`` on a name it read from Redis: whoever can write
to Redis (any client on the network, a leaked password, a bug in another
service) could then make every worker import and call *any* function on the
machine: ``os.system`` with arguments of their choosing.  An explicit registry
turns "run arbitrary code" into "run one of these seven functions".

Functions may be ``async`` (awaited in the worker's event loop) or plain (run
in a daemon thread of their own, :func:`in_daemon_thread`, so they do not block
the loop; worker.py says why not ``asyncio.to_thread``).  A worker runs each
job *at least once*: after a crash a job may run again, so a job must be
idempotent, or made so.  :func:`record` shows the usual trick: remember the
jid in a set, so a second run of the same job changes nothing that counts.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from PIL import Image, ImageDraw

from .job import Job

REGISTRY: dict[str, Callable[..., Any]] = {}


class UnknownJobError(LookupError):
    """A job named a function that is not registered."""


@dataclass
class JobContext:
    """What a running job may use besides its arguments (set by the worker)."""

    redis: aioredis.Redis
    job: Job


current: ContextVar[JobContext] = ContextVar("learn_queue_current_job")


def register(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: make ``func`` runnable as ``<module>.<name>``."""
    REGISTRY[f"{func.__module__}.{func.__name__}"] = func
    return func


def lookup(name: str) -> Callable[..., Any]:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(n.rsplit(".", 1)[-1] for n in REGISTRY))
        raise UnknownJobError(f"no registered job function {name!r} (registered: {known})") from None


async def in_daemon_thread(func: Callable[..., Any], *args: Any) -> Any:
    """``await func(*args)`` run in a new daemon thread, with our context vars (as to_thread)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled (timeout, or shutdown after the grace): nobody waits
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def target() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (context.run(func, *args), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass  # the loop is closed: the worker stopped while this job ran

    threading.Thread(target=target, name=f"job-{getattr(func, '__name__', 'job')}", daemon=True).start()
    return await future


@register
def checksum(path_or_text: str) -> dict[str, Any]:
    """sha256 of a file, if ``path_or_text`` names one, else of the text itself."""
    digest = hashlib.sha256()
    if os.path.isfile(path_or_text):
        with open(path_or_text, "rb") as file:
            for block in iter(lambda: file.read(65536), b""):
                digest.update(block)
        return {"file": path_or_text, "sha256": digest.hexdigest()}
    digest.update(path_or_text.encode("utf-8"))
    return {"text_length": len(path_or_text), "sha256": digest.hexdigest()}


@register
def thumbnail(size: int = 64) -> dict[str, Any]:
    """Draw an 800x600 picture in memory, shrink it to fit ``size`` px, return its size and hash.

    Image work is the classic background job: slow enough that a web request
    should not wait for it.  CPU-bound and synchronous, so it runs in a thread.
    """
    image = Image.new("RGB", (800, 600), "white")
    draw = ImageDraw.Draw(image)
    for n in range(0, 800, 40):
        draw.ellipse((n, n // 2, n + 120, n // 2 + 90), outline=(n % 256, 80, 200), width=4)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return {"width": image.width, "height": image.height, "png_bytes": len(out.getvalue()),
            "sha256": hashlib.sha256(out.getvalue()).hexdigest()}


@register
async def noop() -> None:
    """Does nothing: the benchmark measures the queue, not the work."""


@register
async def sleep(seconds: float) -> float:
    """Wait ``seconds`` without blocking the worker (other jobs run meanwhile)."""
    await asyncio.sleep(seconds)
    return seconds


@register
def sleep_blocking(seconds: float) -> float:
    """Block for ``seconds``: a stand-in for sync work (a blocking HTTP call), run in a thread."""
    time.sleep(seconds)
    return seconds


@register
def fail(message: str = "this job always fails") -> None:
    """Always raises: shows retries with backoff and, at last, the dead set."""
    raise ValueError(message)


@register
async def record(key: str, value: Any = None) -> bool:
    """Count this job's completion idempotently; return True the first time only.

    ``SADD key <jid>`` is the idempotent effect: run twice, the set still holds
    the jid once, so ``SCARD key`` counts *jobs*.  ``RPUSH key:runs <jid>`` counts
    *runs*, duplicates included, to show how often at-least-once repeated work.
    ``value``, if given, is kept in the hash ``key:values`` under the jid.
    """
    ctx = current.get()
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, ctx.job.jid)
        pipe.rpush(f"{key}:runs", ctx.job.jid)
        if value is not None:
            pipe.hset(f"{key}:values", ctx.job.jid, str(value))
        added, *_ = await pipe.execute()
    return bool(added)
