"""Group commit: the writes that arrive while one commit is on its way to disk share the next one.

Reading order: signatures -> outbox -> **group_commit** -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

**The cost being shared.**  A commit with ``synchronous=FULL`` ends in an fsync: the
call returns only when the disk says the bytes are stored (a fraction of a
millisecond on an SSD, milliseconds on a disk or a network volume).  One commit per
event means one fsync per event, and with one SQLite connection the commits queue
behind each other.  So the limit is fsyncs per second, however many requests wait.

**The trick** (PostgreSQL's WAL group commit, MySQL's binlog group commit, Kafka's
batches): one transaction holds every write that is waiting, and one fsync makes
them all durable.  Nobody is answered before the commit that holds their write::

    request A arrives, nothing in flight  -> commit [A] starts at once (no waiting for company)
    B, C, D arrive during that fsync      -> they wait
    [A] is on disk                        -> A's caller may answer 2xx; commit [B, C, D] starts
    [B, C, D] is on disk                  -> B, C and D may answer

Under light load every batch is one write and nothing is delayed; under heavy load
batches grow by themselves, because the longer a commit takes the more writes arrive
during it.  The price is latency: D waits for A's fsync and then its own, where
alone it would have waited for one.  (PostgreSQL's ``commit_delay`` goes one step
further and *sleeps* before the fsync, hoping for company; this module never waits
on purpose.)

**Each write is still all or nothing.**  A write runs inside its own SAVEPOINT, so one
that fails (an unknown delivery id, an illegal state move) is rolled back alone and
its caller gets the exception; the others in the batch commit.  If the COMMIT itself
fails, every caller in the batch gets that error, and none was answered 2xx.

``GroupCommit(write_batch, max_batch)`` is the asyncio side: ``await commits.write(work)``
returns what ``work(connection)`` returned, once it is on disk.  ``write_batch`` is
the database's blocking side (``Outbox.write_batch``, ``Inbox.write_batch``, both
:func:`run_batch`), run in a worker thread.  ``max_batch=1`` is one transaction per
write, the plain way: ``--group-commit 1`` on either server.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Work = Callable[[sqlite3.Connection], Any]
DEFAULT_MAX_BATCH = 256  # writes in one transaction, at most (bounds one commit's time and memory)


@dataclass(frozen=True)
class Done:
    """What one write of a batch came to: its result, or the exception that rolled it back."""

    result: Any = None
    error: Exception | None = None


def run_batch(db: sqlite3.Connection, works: Sequence[Work]) -> list[Done]:
    """Run every write in one IMMEDIATE transaction, each in its own savepoint; one COMMIT.

    The caller holds the connection's lock.  If the COMMIT fails, the exception goes to
    the caller (every write of the batch is then lost, and none was acknowledged).
    """
    done = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for work in works:
            db.execute("SAVEPOINT one_write")
            try:
                done.append(Done(result=work(db)))
            except Exception as exc:  # noqa: BLE001 - this write's error goes to its own caller
                db.execute("ROLLBACK TO one_write")
                done.append(Done(error=exc))
            db.execute("RELEASE one_write")
        db.execute("COMMIT")  # the one fsync (WAL, synchronous=FULL)
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return done


class GroupCommit:
    """Writes from many asyncio tasks, committed together: at most one commit in flight."""

    def __init__(self, write_batch: Callable[[Sequence[Work]], list[Done]],
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.write_batch = write_batch
        self.max_batch = max_batch
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed (fsyncs): writes / commits is the mean batch
        self.writes = 0
        self.largest = 0

    def stats(self) -> dict[str, int]:
        """Commits (fsyncs) and writes so far, and the largest batch: ``GET /healthz`` shows them."""
        return {"commits": self.commits, "writes": self.writes, "largest_batch": self.largest}

    async def write(self, work: Work) -> Any:
        """``work(connection)``'s result once its transaction is on disk (or its exception)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._committer is None:  # nothing in flight: commit now, alone if need be
            self._committer = asyncio.create_task(self._commit_while_waiting(), name="group-commit")
        return await future

    async def _commit_while_waiting(self) -> None:
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            while self._waiting:
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]  # what arrives from now on waits for the next commit
                try:
                    done = await asyncio.to_thread(self.write_batch, [work for work, _ in batch])
                except Exception as exc:  # noqa: BLE001 - the commit failed: nobody's write is stored
                    done = [Done(error=exc)] * len(batch)
                self.commits += 1
                self.writes += len(batch)
                self.largest = max(self.largest, len(batch))
                for (_, future), outcome in zip(batch, done, strict=True):
                    if future.done():  # its caller was cancelled; the write is stored all the same
                        continue
                    if outcome.error is not None:
                        future.set_exception(outcome.error)
                    else:
                        future.set_result(outcome.result)
        finally:
            # Cancelled (shutdown): nobody may wait for ever.  A write of the batch in flight
            # may still reach the disk; its caller was simply not told (no 2xx was sent).
            for _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.cancel()
            self._waiting.clear()
            self._committer = None
