"""The job: one unit of background work, as the JSON text that Redis stores.

Reading order: **job** -> client -> jobs -> worker (fetch, run, retry) -> outage ->
scheduler / reaper -> web.

A job is a small JSON object, modelled on Sidekiq's job payload
(https://github.com/sidekiq/sidekiq/wiki/Job-Format)::

    {"class": "learn_queue.jobs.checksum", "args": ["hello"], "jid": "5d1f...(24 hex)",
     "queue": "default", "created_at": 1767..., "enqueued_at": 1767..., "retry": 5}

After a failure the worker adds ``retry_count`` (1 after the first failure),
``error_class``, ``error_message``, ``failed_at`` (first failure) and
``retried_at`` (later failures).  ``timeout`` (seconds) is optional.

Why JSON text and not a Redis hash per job?  The *same string* moves between
lists (queue -> processing list -> schedule -> queue): ``LREM`` finds it in a
processing list by exact equality, so ``encode`` must be deterministic (compact,
fixed key order) and a worker must keep the exact text it fetched.

This module is pure: no Redis, no clock, no randomness of its own (the clock,
the id source and the random generator are parameters), so tests can assert
exact bytes and exact retry delays.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_QUEUE = "default"
DEFAULT_RETRY = 5


class JobFormatError(ValueError):
    """The text is not a job in our format; the message says what is wrong with it."""


@dataclass
class Job:
    """A decoded job.  ``func`` is the JSON key ``class`` (a Python keyword)."""

    func: str
    args: list[Any]
    jid: str
    queue: str = DEFAULT_QUEUE
    created_at: float | None = None
    enqueued_at: float | None = None
    retry: int = DEFAULT_RETRY
    retry_count: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    failed_at: float | None = None
    retried_at: float | None = None
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys we do not know: kept, not lost

    @property
    def short_name(self) -> str:
        """``checksum`` for ``learn_queue.jobs.checksum``: what the trace shows."""
        return self.func.rsplit(".", 1)[-1]


# JSON key order of encode(); "class" is stored in Job.func.
_KEYS = ["class", "args", "jid", "queue", "created_at", "enqueued_at", "retry", "retry_count",
         "error_class", "error_message", "failed_at", "retried_at", "timeout"]
_ATTR = {"class": "func"}


def random_jid() -> str:
    """24 hex digits (96 random bits), like Sidekiq's jid."""
    return os.urandom(12).hex()


def new_job(func_name: str, args: list[Any] | tuple[Any, ...] = (), *, queue: str = DEFAULT_QUEUE,
            retry: int = DEFAULT_RETRY, timeout: float | None = None,
            clock: Callable[[], float] = time.time, new_jid: Callable[[], str] = random_jid) -> Job:
    """A fresh job, never failed yet (so without ``retry_count``)."""
    now = clock()
    return Job(func=func_name, args=list(args), jid=new_jid(), queue=queue, created_at=now,
               enqueued_at=now, retry=retry, timeout=timeout)


def encode(job: Job) -> str:
    """Compact JSON with a fixed key order; ``None`` fields are left out."""
    data: dict[str, Any] = {}
    for key in _KEYS:
        value = getattr(job, _ATTR.get(key, key))
        if value is not None:
            data[key] = value
    data.update(job.extra)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _expect(data: dict[str, Any], key: str, types: type | tuple[type, ...], what: str) -> Any:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, types):
        raise JobFormatError(f"job field {key!r} must be {what}, got {type(value).__name__}: {value!r:.60}")
    return value


def decode(text: str | bytes) -> Job:
    """Parse a job; :class:`JobFormatError` names the first thing that is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFormatError(f"job is not UTF-8 text: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFormatError(f"job is not JSON ({exc.msg} at char {exc.pos}): {text[:60]!r}") from None
    if not isinstance(data, dict):
        raise JobFormatError(f"job must be a JSON object, got {type(data).__name__}: {text[:60]!r}")
    for required in ("class", "args", "jid"):
        if required not in data:
            raise JobFormatError(f"job has no {required!r} field: {text[:60]!r}")
    values: dict[str, Any] = {
        "func": _expect(data, "class", str, "a string (a dotted function name)"),
        "args": _expect(data, "args", list, "a list"),
        "jid": _expect(data, "jid", str, "a string"),
    }
    if not values["jid"]:
        raise JobFormatError("job field 'jid' is empty")
    optional = {"queue": (str, "a string"), "retry": (int, "an integer"),
                "retry_count": (int, "an integer"), "error_class": (str, "a string"),
                "error_message": (str, "a string")}
    for key in ("created_at", "enqueued_at", "failed_at", "retried_at", "timeout"):
        optional[key] = ((int, float), "a number")
    for key, (types, what) in optional.items():
        if data.get(key) is not None:
            values[key] = _expect(data, key, types, what)
    known = {f.name for f in fields(Job)} | {"class"}
    values["extra"] = {k: v for k, v in data.items() if k not in known}
    return Job(**values)


def backoff_seconds(retry_count: int, rng: random.Random, scale: float = 1.0) -> float:
    """Delay before retry number ``retry_count`` (1, 2, ...), Sidekiq-like.

    ``count**4 + 15 + uniform(0, 10 * (count + 1))`` seconds: 16-36 s, 31-61 s,
    96-136 s, 271-321 s, 640-700 s, ... so a job that keeps failing is tried
    about 25 times over three weeks in Sidekiq's default; ours stops after
    ``retry`` (5).  The random part spreads retries of jobs that failed together
    (say, while a database was down) so they do not all come back at once.
    ``scale`` shrinks the whole schedule for tests and demos (0.01: 0.16 s ...).
    """
    return scale * (retry_count**4 + 15 + rng.uniform(0, 10 * (retry_count + 1)))


def after_failure(job: Job, error: BaseException, now: float, rng: random.Random,
                  scale: float = 1.0) -> float | None:
    """Record a failure on ``job``; return when to run it again, or None: out of retries, dead.

    Pure: the time is ``now`` and the randomness ``rng``, both given, so a test
    drives a job through every retry to the dead set without waiting.
    """
    job.error_class, job.error_message = type(error).__name__, str(error)
    if job.retry_count is None:
        job.failed_at = now
    else:
        job.retried_at = now
    job.retry_count = (job.retry_count or 0) + 1
    if job.retry_count > job.retry:
        return None
    return now + backoff_seconds(job.retry_count, rng, scale)
