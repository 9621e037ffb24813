"""The same worker with fewer round trips: Redis calls of jobs that run side by side share one.

Reading order: optional, after worker (the speed beside the lesson).

``worker.py`` is the lesson: one fetched job, one ``LMOVE``; then, per job, an
``HSET`` (running) and the finishing script: three round trips, each a
``send()`` and a wake-up of Redis.  On a loaded 2-core machine that ``send()``
is the largest single cost of a no-op job (cProfile: about a quarter).  This worker
sends the *same commands* in fewer packets:

- **fetch**: with ``k`` slots free, ``k`` ``LMOVE``s in one pipeline (not a
  transaction: each ``LMOVE`` is atomic by itself, and a job is always in
  exactly one list).  Strict priority holds per batch: a lower queue is asked
  only for what the higher ones did not have.  Nothing found: the same
  blocking ``BLMOVE`` as the lesson;
- **start and finish**: each job task still awaits its own ``HSET`` and its
  own ``DONE`` script, but the calls made in the same turn of the event loop
  go out together, one pipeline of them (:class:`Coalescer`).  This part runs
  under ``-q`` only: with the trace on, each job takes the lesson's path, so
  that its lines are the lesson's.

Nothing about reliability changes: a pipelined ``LMOVE`` whose reply is lost
leaves a stray in our processing list, which the lesson's stray check gives
back; a batch of finishing scripts cut by an outage is sent again as a whole,
which is safe because each script is (its ``ack``: fetch.py); heartbeats, the
reaper, retries and the give-back at exit are the lesson's own code.  Failures
and unrunnable jobs take the lesson's path (rare, one round trip each).
``tests/queue/test_fast_worker.py`` runs the same jobs through both workers and
compares what they leave in Redis.

Chosen at start: ``python -m learn_queue.fast_worker`` takes the options of
``python -m learn_queue.worker`` and runs this class instead (the benchmark
measures both).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from wirelab_common.errors import run_main

from . import jobs
from .client import DONE_TTL, Keys, routing
from .fetch import DONE, LATE, TAKEN_BACK
from .outage import Outage, Stopped
from .worker import Worker, main

_DONE_SHA: str | None = None


async def fetch_many(redis: aioredis.Redis, keys: Keys, queues: list[str], processing: str, count: int,
                     block: float) -> list[tuple[str, bytes]]:
    """Up to ``count`` jobs moved into ``processing`` (queue order); [] after ``block`` s with none."""
    got: list[tuple[str, bytes]] = []
    for name in queues:
        want = count - len(got)
        if want <= 0:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(want):
                pipe.lmove(keys.queue(name), processing, "RIGHT", "LEFT")
            got += [(name, raw) for raw in await pipe.execute() if raw is not None]
    if got or block <= 0:
        return got
    raw = await redis.blmove(keys.queue(queues[0]), processing, block, "RIGHT", "LEFT")
    return [] if raw is None else [(queues[0], raw)]


class Coalescer:
    """``await submit(item)``: items submitted in one turn of the loop are sent by one ``send(items)``.

    ``send`` returns one answer per item and must be safe to repeat (it goes
    through the worker's Outage, which retries it whole).  A submitter that is
    cancelled (shutdown) simply stops waiting.
    """

    def __init__(self, what: str, outage: Outage, send: Callable[[list[Any]], Awaitable[list[Any]]]) -> None:
        self.what, self.outage, self.send = what, outage, send
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.flushes: set[asyncio.Task[None]] = set()

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((item, future))
        if len(self.pending) == 1:
            # After the tasks already ready in this turn: they add their items first.
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        task = asyncio.create_task(self._send(batch))
        self.flushes.add(task)
        task.add_done_callback(self.flushes.discard)

    async def _send(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        try:
            answers = await self.outage.call(self.what, lambda: self.send([item for item, _ in batch]))
        except BaseException as exc:  # noqa: BLE001 - each waiting job task gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else Stopped(self.what))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    def cancel(self) -> None:
        for task in self.flushes:
            task.cancel()


class FastWorker(Worker):
    """:class:`~learn_queue.worker.Worker` with batched round trips; same records in Redis."""

    def __init__(self, redis: aioredis.Redis, **options: Any) -> None:
        super().__init__(redis, **options)
        self.starts = Coalescer("job start", self.outage, self._send_starts)
        self.finishes = Coalescer("job done", self.outage, self._send_dones)

    async def _fetch(self) -> list[tuple[str, bytes]]:
        """As many jobs as there are free slots, in one pipeline (the lesson fetches one)."""
        free = self.concurrency - len(self.running)
        return await self._redis("fetch", lambda: fetch_many(
            self.redis, self.keys, self.queues, self.processing, free, self.poll), stop=self._stopping)

    async def _drain(self) -> None:
        await super()._drain()
        self.starts.cancel()
        self.finishes.cancel()

    async def _run_job(self, queue: str, raw: bytes) -> None:
        job, func = self._resolve(queue, raw)
        if func is None or not self.quiet:
            await super()._run_job(queue, raw)  # unrunnable, or traced: the lesson's path
            return
        run = f"{self.worker_id}:{secrets.token_hex(4)}"
        await self.starts.submit((job.jid, self.clock()))
        jobs.current.set(jobs.JobContext(self.redis, job))
        try:
            async with asyncio.timeout(job.timeout or self.job_timeout):
                if inspect.iscoroutinefunction(func):
                    result = await func(*job.args)
                else:
                    result = await jobs.in_daemon_thread(func, *job.args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code is a job failure
            await self._failed(job, raw, exc, run)
            return
        queue_of_job, _ = routing(raw)
        answer = await self.finishes.submit(
            ([self.processing, self.keys.job(job.jid), self.keys.queue(queue_of_job)],
             [raw, run, self.clock(), json.dumps(result, default=repr), DONE_TTL]))
        if answer == LATE:
            self._was_late(job, "done")
            return
        self.finished += 1
        if answer == TAKEN_BACK:
            self.trace.state(f"job {job.jid} done, but no longer ours: reaped while we were away, and still "
                             "queued; taken back out of its queue, so it does not run again", always=True)

    async def _send_starts(self, items: list[tuple[str, float]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for jid, now in items:
                pipe.hset(self.keys.job(jid), mapping={"status": "running", "updated": now})
            return await pipe.execute()

    async def _send_dones(self, items: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """One ``EVALSHA`` of fetch.DONE per job, in one pipeline; ``EVAL`` if Redis lost the script."""
        global _DONE_SHA
        if _DONE_SHA is None:
            _DONE_SHA = await self.redis.script_load(DONE)
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args in items:
                pipe.evalsha(_DONE_SHA, len(keys), *keys, *args)
            answers = await pipe.execute(raise_on_error=False)
        if any(isinstance(a, NoScriptError) for a in answers):
            # Redis restarted (scripts are not persisted); NOSCRIPT ran nothing, so send them again.
            async with self.redis.pipeline(transaction=False) as pipe:
                for keys, args in items:
                    pipe.eval(DONE, len(keys), *keys, *args)
                answers = await pipe.execute(raise_on_error=False)
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return answers


if __name__ == "__main__":
    run_main(lambda: main(kind=FastWorker))
