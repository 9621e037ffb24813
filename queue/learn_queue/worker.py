"""The worker: fetch jobs reliably, run them concurrently, retry failures, give back on exit.

Reading order: job -> client -> jobs -> **worker** (fetch, run, retry) -> outage ->
scheduler / reaper -> web.

    python -m learn_queue.worker --redis-url redis://127.0.0.1:6379/0 \\
        [--queues critical,default,low] [--concurrency 10] [--worker-id ID] [--heartbeat 1.0] \\
        [--dead-after 5.0] [--poll 0.5] [--backoff-scale 1.0] [--job-timeout 30] [--grace 5] \\
        [--redis-timeout 5] [--namespace lq] [--no-reaper] [-v | -q]

One asyncio process, four tasks:

- the *fetcher* (fetch.py) waits for a free slot of ``--concurrency``, then
  ``LMOVE``s the next job into ``lq:processing:<worker id>`` and starts a task
  that runs it;
- each *job task* decodes the job, looks its function up in the registry
  (jobs.py), runs it under ``asyncio.timeout`` and then, in one ``MULTI`` with
  the ``LREM``, marks it done, schedules a retry after a growing backoff
  (job.backoff_seconds), or buries it in ``lq:dead`` when out of retries.  A
  payload that does not decode, or names no registered function, is buried at
  once: retrying would fail the same way;
- the *scheduler* (scheduler.py) moves due retries and scheduled jobs back;
- the *heartbeat + reaper* (reaper.py) keeps us alive and recovers dead workers.

Redis may restart or stop answering at any time; the worker rides that out.
Every Redis call of every task goes through one :class:`~learn_queue.outage.Outage`,
which retries with full-jitter backoff and traces ``redis unreachable (...)``
once per outage and ``redis back after N s`` when it ends.  A reply can be
lost after Redis acted on the command, and two such cases need care: a fetch
whose job landed in our processing list unseen (after a failed fetch the
worker compares that list with the jobs it holds and gives strays back to
their queues), and a finish that may already have happened (fetch.py: the
``ack`` of our run).  A job that the reaper took from us while we were cut off
is reported when we finish it (``job ... no longer ours``), and left to the
run that owns it now.  ``--redis-timeout`` is how long a reply may take before
Redis counts as unreachable (it must exceed ``--poll``, the blocking fetch).
At start, though, a Redis that is missing or refuses us is a setup error:
exit 2 and one line saying what to do.

SIGTERM (or Ctrl-C) stops the fetcher; running jobs get ``--grace`` seconds,
counted from the signal, to finish (the fetcher waits for a free slot *or* the
signal, so a worker with every slot busy stops as promptly as an idle one).
Whatever is still in our processing list then goes back to its queue
(``RPUSH``: it runs next, on another worker), including a job fetched just as
the signal came, which is not started.  Nothing is lost, and exit is 0.

Every time the worker writes or compares (heartbeats, ``updated``, run-at
scores, deaths, "is this due?") comes from one ``clock`` (``time.time`` unless
given): a test gives its own and moves it, so retries, scheduled jobs and the
reaper run without waiting (tests/queue/test_clock.py).  Durations (the grace,
a job's run time) are measured on the monotonic clock.  ``--no-reaper`` keeps
the heartbeat but never reaps: the demo's act 3 must then fail.

A timeout stops an ``async`` job; a sync job running in a thread cannot be
stopped (Python has no thread kill): it is reported as failed and its thread
runs on, which is why long sync work should check a deadline itself.  Sync jobs
run in daemon threads, not ``asyncio.to_thread``'s pool, because Python waits
for pool threads at exit: one long sync job would hold the process open long
after the grace.  A daemon thread simply ends with the process; its job is back
on the queue by then, and will run again (at least once).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import random
import secrets
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from wirelab_common.errors import SetupError, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from . import jobs
from .client import DEFAULT_NAMESPACE, Keys, namespace
from .fetch import LATE, TAKEN_BACK, bury, done, fetch, malformed_job, retry_later
from .job import Job, JobFormatError, after_failure, decode
from .outage import UNREACHABLE, Outage, Stopped, check_at_start
from .reaper import Reaper
from .scheduler import Scheduler


class Worker:
    """One worker; ``run()`` until ``stop()`` (or a signal in the CLI)."""

    def __init__(self, redis: aioredis.Redis, *, queues: list[str], concurrency: int = 10,
                 worker_id: str | None = None, heartbeat: float = 1.0, dead_after: float = 5.0,
                 poll: float = 0.5, backoff_scale: float = 1.0, job_timeout: float = 30.0,
                 grace: float = 5.0, namespace: str = DEFAULT_NAMESPACE, trace: Trace | None = None,
                 quiet: bool = False, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.time, reap: bool = True) -> None:
        self.redis, self.queues, self.concurrency = redis, queues, concurrency
        self.keys = Keys(namespace)
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.processing = self.keys.processing(self.worker_id)
        self.poll, self.backoff_scale, self.job_timeout, self.grace = poll, backoff_scale, job_timeout, grace
        self.trace = trace or Trace("worker")
        self.quiet = quiet
        self.rng = rng or random.Random()
        self.clock = clock  # unix time of every record: heartbeats, retries, deaths (tests give their own)
        # Every Redis call retries through it (outage.py).
        self.outage = Outage(self.trace,
                             forget=lambda: redis.connection_pool.disconnect(inuse_connections=False))
        self.reaper = Reaper(redis, self.keys, self.worker_id, heartbeat=heartbeat, dead_after=dead_after,
                             on_reaped=self._reaped, on_rejoined=self._rejoined, clock=clock, reap=reap)
        self.scheduler = Scheduler(redis, self.keys, poll, clock=clock)
        self.running: set[asyncio.Task[None]] = set()
        self.held: Counter[bytes] = Counter()  # exact texts of the jobs our tasks hold
        self.finished = 0
        self.late = 0  # finished, but reaped from us meanwhile: another run owns them (fetch.LATE)
        self._stopping = asyncio.Event()
        self._stopped_at = 0.0  # time.monotonic() of stop(): the grace runs from here
        self._wake = asyncio.Event()  # set when a slot frees up or stop() is called

    def stop(self) -> None:
        """Stop fetching; ``run()`` then drains (for the rest of ``grace``) and returns."""
        if not self._stopping.is_set():
            self._stopped_at = time.monotonic()
            self._stopping.set()
            self._wake.set()

    def _reaped(self, worker: str, moved: int) -> None:
        self.trace.state(f"reaper: worker {worker} is dead; {moved} job(s) back to their queues")

    def _rejoined(self) -> None:
        self.trace.state(f"{self.worker_id} was not in {self.keys.workers} any more (taken for dead while "
                         "away, its jobs reaped): joined again", always=True)

    async def _redis(self, what: str, op: Callable[[], Any], **limits: Any) -> Any:
        """``await op()``, retried while Redis is unreachable (outage.py: ``stop``, ``until``)."""
        return await self.outage.call(what, op, **limits)

    async def run(self) -> None:
        try:
            await self._redis("register", self.reaper.register, stop=self._stopping)
            leftover = await self._redis("register", lambda: self.reaper.recover(self.worker_id),
                                         stop=self._stopping)  # same id, restarted after a crash
        except Stopped:
            return
        if leftover:
            self.trace.state(f"{leftover} job(s) left by an earlier run of {self.worker_id} requeued")
        # The heartbeat goes on while running jobs drain; it stops only after them.
        background_stop = asyncio.Event()
        background = [asyncio.create_task(self.reaper.run(background_stop, self.outage)),
                      asyncio.create_task(self.scheduler.run(background_stop, self.outage))]
        # The ready line (printed even under -q): tests and demos wait for "fetching".
        self.trace.state(f"{self.worker_id} fetching from {', '.join(self.queues)} "
                         f"(concurrency {self.concurrency})", always=True)
        try:
            await self._fetch_loop()
        finally:
            await self._drain()
            background_stop.set()
            _, stuck = await asyncio.wait(background, timeout=5)
            for task in stuck:
                task.cancel()
            late = f", {self.late} finished late (no longer ours)" if self.late else ""
            # Redis down at exit: try until the grace is over (at least 1 s), then leave our
            # jobs to the reaper of another worker, once our heartbeat has expired.
            until = max(self._stopped_at + self.grace, time.monotonic() + 1.0)
            try:
                moved = await self._redis("give back", self.reaper.unregister, until=until)
            except UNREACHABLE:
                self.trace.state(f"{self.worker_id} stopped; {self.finished} job(s) finished{late}; Redis "
                                 "unreachable, so what we held stays in our processing list for a reaper",
                                 always=True)
                return
            self.trace.state(f"{self.worker_id} stopped; {self.finished} job(s) finished{late}, "
                             f"{moved} given back to their queues")

    async def _fetch_loop(self) -> None:
        while not self._stopping.is_set():
            # Wait for a free slot, or for stop(): with every slot busy, a
            # signal must not wait for a job to finish before the grace starts.
            while len(self.running) >= self.concurrency and not self._stopping.is_set():
                self._wake.clear()
                await self._wake.wait()
            if self._stopping.is_set():
                break
            failures = self.outage.last_failure
            try:
                got = await self._fetch()
            except Stopped:
                break
            if got and self._stopping.is_set():
                break  # they stay in our processing list; unregister() gives them back
            for queue, raw in got:
                self.held[raw] += 1
                task = asyncio.create_task(self._run_job(queue, raw))
                self.running.add(task)
                task.add_done_callback(lambda t, raw=raw: self._job_ended(t, raw))
            if self.outage.last_failure != failures:
                try:
                    await self._give_back_strays()
                except Stopped:
                    break

    async def _fetch(self) -> list[tuple[str, bytes]]:
        """One job by reliable fetch (BLMOVE), as [(queue, raw)], or [] when none came.

        Blocks no longer than --poll, so a stop request is noticed soon."""
        got = await self._redis("fetch", lambda: fetch(self.redis, self.keys, self.queues,
                                                       self.processing, self.poll),
                                stop=self._stopping)
        return [] if got is None else [got]

    async def _give_back_strays(self) -> None:
        """After a failed fetch: a job Redis moved to us, its reply lost, waits in our list unseen."""
        members = await self._redis("fetch", lambda: self.redis.lrange(self.processing, 0, -1),
                                    stop=self._stopping)
        strays = list((Counter(members) - self.held).elements())
        if strays:
            moved = await self._redis("fetch", lambda: self.reaper.recover(self.worker_id, strays),
                                      stop=self._stopping)
            self.trace.state(f"{moved} job(s) fetched while the reply was lost given back to their queues",
                             always=True)

    def _job_ended(self, task: asyncio.Task[None], raw: bytes) -> None:
        self.running.discard(task)
        self.held[raw] -= 1
        if self.held[raw] <= 0:
            del self.held[raw]
        self._wake.set()

    async def _drain(self) -> None:
        if self.running:
            left = max(0.0, self._stopped_at + self.grace - time.monotonic())
            self.trace.state(f"stopping: waiting up to {left:.2g} s for {len(self.running)} job(s)")
            _, late = await asyncio.wait(self.running, timeout=left)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _resolve(self, queue: str, raw: bytes) -> tuple[Job, Callable[..., Any] | None]:
        """The job and its registered function; None (and the error on the job) if unrunnable."""
        try:
            job = decode(raw)
        except JobFormatError as exc:
            return malformed_job(raw, queue, exc, self.clock()), None
        try:
            return job, jobs.lookup(job.func)
        except jobs.UnknownJobError as exc:
            job.error_class, job.error_message, job.failed_at = type(exc).__name__, str(exc), self.clock()
            return job, None

    async def _run_job(self, queue: str, raw: bytes) -> None:
        run = f"{self.worker_id}:{secrets.token_hex(4)}"  # this run of the job: fetch.py's ``ack``
        # Unrunnable jobs are buried at once: a retry would fail the same way.
        job, func = self._resolve(queue, raw)
        if func is None:
            now = self.clock()
            if await self._redis("job dead", lambda: bury(self.redis, self.keys, self.processing, raw, job,
                                                          now, run)) == LATE:
                self._was_late(job, "buried")
                return
            self.trace.state(f"job {job.jid} DEAD at once: {job.error_class}: {job.error_message}")
            return
        if not self.quiet:
            # From Redis (it traces nothing itself: the viewer draws it from this name); the
            # job id is the correlation id the demo's events carry too.
            self.trace.received(f"job {job.jid} {job.short_name} (queue {job.queue})", [raw.decode()],
                                peer="redis", cid=job.jid)
        started_at = self.clock()
        await self._redis("job start", lambda: self.redis.hset(
            self.keys.job(job.jid), mapping={"status": "running", "updated": started_at}))
        jobs.current.set(jobs.JobContext(self.redis, job))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(job.timeout or self.job_timeout):
                if inspect.iscoroutinefunction(func):
                    result = await func(*job.args)
                else:
                    result = await jobs.in_daemon_thread(func, *job.args)
        except asyncio.CancelledError:
            raise  # shutdown after the grace: the job goes back to its queue
        except Exception as exc:  # noqa: BLE001 - any failure of user code is a job failure
            await self._failed(job, raw, exc, run)
            return
        took = (time.perf_counter() - started) * 1000
        now = self.clock()
        answer = await self._redis("job done", lambda: done(self.redis, self.keys, self.processing, raw, job,
                                                            result, now, run))
        if answer == LATE:
            self._was_late(job, f"done in {took:.1f} ms")
            return
        self.finished += 1
        if answer == TAKEN_BACK:
            self.trace.state(f"job {job.jid} done in {took:.1f} ms, but no longer ours: reaped while we were "
                             "away, and still queued; taken back out of its queue, so it does not run again",
                             always=True)
        elif not self.quiet:
            self.trace.state(f"job {job.jid} done in {took:.1f} ms")

    def _was_late(self, job: Job, what: str) -> None:
        self.late += 1
        self.trace.state(f"job {job.jid} {what}, but no longer ours: reaped while we were away, it belongs "
                         f"to another run now; ours is only noted (late:<run> in {self.keys.job(job.jid)})",
                         always=True)

    async def _failed(self, job: Job, raw: bytes, exc: Exception, run: str) -> None:
        now = self.clock()
        if isinstance(exc, TimeoutError):
            exc = TimeoutError(f"no result after {job.timeout or self.job_timeout:g} s")
        run_at = after_failure(job, exc, now, self.rng, self.backoff_scale)  # pure: job.py
        if run_at is None:
            if await self._redis("job dead", lambda: bury(self.redis, self.keys, self.processing, raw, job,
                                                          now, run)) == LATE:
                self._was_late(job, f"failed for good ({job.error_class})")
                return
            self.trace.state(f"job {job.jid} DEAD after {job.retry} retries ({job.error_class}: "
                             f"{job.error_message})")
            return
        if await self._redis("job retry", lambda: retry_later(self.redis, self.keys, self.processing, raw,
                                                              job, run_at, now, run)) == LATE:
            self._was_late(job, f"failed ({job.error_class})")
            return
        self.trace.state(f"job {job.jid} failed ({job.error_class}: {job.error_message}); "
                         f"retry {job.retry_count}/{job.retry} in {run_at - now:.2f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_queue.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="redis://HOST:PORT/DB (default: $REDIS_URL)")
    parser.add_argument("--queues", default="default", help="comma-separated, strict priority order")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--worker-id", default=None, help="default: host-pid")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between heartbeats")
    parser.add_argument("--dead-after", type=float, default=5.0, help="a heartbeat older is a dead worker")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds: blocking fetch, schedule poll")
    parser.add_argument("--backoff-scale", type=float, default=1.0, help="multiply retry delays")
    parser.add_argument("--job-timeout", type=float, default=30.0, help="seconds, unless the job says")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds running jobs get on SIGTERM")
    parser.add_argument("--redis-timeout", type=float, default=5.0,
                        help="seconds a Redis reply may take before Redis counts as unreachable (> --poll)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, type=namespace,
                        help="first part of every Redis key: NS:queue:default ... (A-Z a-z 0-9 _ . - { })")
    parser.add_argument("--no-reaper", action="store_true",
                        help="heartbeat, but never reap a dead worker (the demo's act 3 must then fail)")
    add_verbosity(parser)  # -v: each job's JSON; -q: no trace lines but the ready line and errors
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None, kind: type[Worker] = Worker) -> None:
    """The command line; ``kind`` is the worker class (fast_worker.py runs this with its own)."""
    args = parse_args(argv)
    if not args.redis_url:
        raise SetupError("no Redis URL", "pass --redis-url redis://127.0.0.1:6379/0 or set REDIS_URL")
    if args.redis_timeout <= args.poll:
        raise SetupError(f"--redis-timeout {args.redis_timeout:g} is not more than --poll {args.poll:g}",
                         "a blocking fetch waits --poll seconds for its reply: give --redis-timeout more")
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    # No retries inside redis-py: the worker's own (outage.py) must see every failure, since
    # a failed fetch is followed by a look at our processing list.
    # Each running job may hold a connection (its start, its own Redis calls, its finish), plus the
    # fetch, heartbeat and scheduler: redis-py's default pool of 100 is too small past ~90 jobs.
    redis = aioredis.from_url(args.redis_url, decode_responses=False, socket_timeout=args.redis_timeout,
                              socket_connect_timeout=args.redis_timeout, retry=Retry(NoBackoff(), 0),
                              max_connections=max(100, args.concurrency + 10))
    try:
        await check_at_start(redis, args.redis_url)
        worker = kind(redis, queues=queues, concurrency=args.concurrency, worker_id=args.worker_id,
                        heartbeat=args.heartbeat, dead_after=args.dead_after, poll=args.poll,
                        backoff_scale=args.backoff_scale, job_timeout=args.job_timeout, grace=args.grace,
                        namespace=args.namespace, reap=not args.no_reaper,
                        trace=Trace("worker", verbose=args.verbose, quiet=args.quiet), quiet=args.quiet)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()
    finally:
        await redis.aclose()


if __name__ == "__main__":
    run_main(main)
