"""Riding out a Redis outage: every Redis call of the worker retries until Redis is back.

Reading order: job -> client -> jobs -> worker (fetch, run, retry) -> **outage** ->
scheduler / reaper -> web.

Redis restarts (a deploy, a crash, ``docker restart``), stops answering (a
network partition, a paused VM) or answers ``LOADING`` while it reads its
append-only file back.  A worker that died of the first ``ConnectionError``
would need someone to start it again; so each of the worker's loops (fetch,
heartbeat and reaper, scheduler, each job's start and finish) wraps its Redis
calls in :meth:`Outage.call`, which tries again after a delay drawn with full
jitter (``wirelab_common.backoff``: retry ``k`` waits ``uniform(0, min(max,
base * 2**k))``), so a dozen workers do not all hit a Redis that is coming
back at the same instant.

One outage is traced once, however many loops notice it, and its end once::

    = worker   redis unreachable (heartbeat: Connection closed by server.); retry in 0.037 s
    = worker   redis back after 2.4 s

"Unreachable" means no answer: ``ConnectionError`` (refused, reset, closed,
``LOADING``) or ``TimeoutError`` (no reply within the client's socket timeout,
``--redis-timeout``).  Any other Redis error is a bug or a misconfiguration, and
is raised.  A retried command may already have run: a reply lost on the way
back looks exactly like a request lost on the way there.  Hence every call the
worker retries is harmless to repeat, or can tell (see fetch.py, worker.py).

At start it is the other way round (:func:`check_at_start`): a Redis that is
missing, or refuses us (``DENIED`` in protected mode, a password wanted), is a
setup to fix, not an outage to wait out: a :class:`SetupError`, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import SetupError
from wirelab_common.wiretrace import Trace

T = TypeVar("T")

# No answer from Redis (OSError and TimeoutError too: what asyncio raises itself).
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class Stopped(Exception):
    """The caller's stop event was set while Redis was unreachable: the call was given up."""


class Outage:
    """Retries Redis calls with full-jitter backoff; traces each outage once, and its end."""

    def __init__(self, trace: Trace, rng: random.Random | None = None, base: float = 0.05,
                 max_delay: float = 5.0, forget: Callable[[], Awaitable[object]] | None = None) -> None:
        self.trace, self.rng = trace, rng or random.Random()
        # Closes the client's idle connections when an outage starts and when it ends: one
        # opened before a restart is dead, and would fail once more, after Redis is back.
        self.forget = forget
        self.base, self.max_delay = base, max_delay
        self.down_since: float | None = None  # time.monotonic() of the first failure, while down
        self.last_failure: float | None = None  # time.monotonic() of the latest failure, ever
        self.outages = 0

    async def call(self, what: str, op: Callable[[], Awaitable[T]], *,
                   stop: asyncio.Event | None = None, until: float | None = None) -> T:
        """``await op()`` until it gets an answer from Redis.

        ``stop`` set during a wait raises :class:`Stopped`; past ``until`` (a
        ``time.monotonic()`` deadline) the last error is raised.  Without either,
        it retries for as long as it takes (a task cancel ends it).
        """
        attempt = 0  # k of wirelab_common.backoff: retries made so far in a row
        while True:
            try:
                result = await op()
            except UNREACHABLE as exc:
                if until is not None and time.monotonic() >= until:
                    raise
                delay = backoff_delay(attempt, self.base, self.max_delay, self.rng)
                attempt += 1
                if self._went_down(what, exc, delay) and self.forget is not None:
                    await self.forget()
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    if stop.is_set():
                        raise Stopped(what) from exc
                continue
            if self._came_back() and self.forget is not None:
                await self.forget()
            return result

    def _went_down(self, what: str, exc: BaseException, delay: float) -> bool:
        """Note a failure; True if it starts an outage (and was traced)."""
        self.last_failure = time.monotonic()
        if self.down_since is not None:
            return False  # already traced: one line per outage, not one per loop and try
        self.down_since = time.monotonic()
        self.outages += 1
        reason = str(exc) or type(exc).__name__
        self.trace.state(f"redis unreachable ({what}: {reason}); retry in {delay:.2g} s", always=True)
        return True

    def _came_back(self) -> bool:
        """True if this success ends an outage (and was traced)."""
        if self.down_since is None:
            return False
        self.trace.state(f"redis back after {time.monotonic() - self.down_since:.1f} s", always=True)
        self.down_since = None
        return True


async def check_at_start(redis: aioredis.Redis, url: str) -> None:
    """PING once: a Redis that is missing or refuses us at start is a setup error (exit 2), not an outage."""
    try:
        await redis.ping()
    except AuthenticationError as exc:  # before RedisError: redis-py counts it as a connection error
        raise SetupError(f"Redis at {url} wants a password: {exc}",
                         "put it in the URL: redis://:PASSWORD@HOST:PORT/0") from None
    except ResponseError as exc:
        first = str(exc).split(". ")[0]
        if str(exc).startswith("DENIED"):
            raise SetupError(f"Redis at {url} refuses us: {first}",
                             "it takes only loopback clients: give its default user a password "
                             "(put it in the URL), or, on a private network, start redis-server "
                             "with --protected-mode no") from None
        raise SetupError(f"Redis at {url} refuses us: {first}",
                         "check the Redis server's configuration") from None
    except (RedisError, OSError) as exc:
        raise SetupError(f"cannot reach Redis at {url}: {exc}",
                         "start redis-server, or fix --redis-url / REDIS_URL") from None
