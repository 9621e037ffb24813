"""The receiver's inbox: the idempotency record and the durable work queue, in one SQLite file.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> **inbox** ->
receiver_app -> receiver -> demo.

Why a receiver needs one.  Webhook delivery is *at least once*: a provider that sent
a request and got no answer (a timeout, a reset connection) cannot know whether we
received it, so it sends it again, with the same ``webhook-id`` ("Webhook metadata":
the id "remains the same no matter how many times a webhook ... is retried").  A
receiver that wants each event handled *once* keeps the ids it has accepted and
answers a repeat with "already have it" (Standard Webhooks, "Verifying signatures":
"Use the webhook-id header as an idempotency key").

One row per accepted delivery does two jobs::

    inbox(seq, msg_id UNIQUE, type, body, scheme, received_at, processed 0|1)
    processed_log(seq, msg_id UNIQUE, processed_at)

1. **Idempotency.**  ``accept()`` is a single ``INSERT ... ON CONFLICT(msg_id) DO
   NOTHING``.  SQLite runs it atomically, so of two concurrent deliveries of one id
   exactly one inserts a row; the other sees ``rowcount == 0`` and is a duplicate.
   There is no check-then-insert window for a race to slip through.
2. **A durable queue.**  The same row, with ``processed = 0``, is the work item.
   The receiver answers 202 only after the commit, so an event we said "accepted"
   to is on disk: if the process dies a millisecond later, :meth:`unprocessed`
   finds it again on start-up.  (An in-memory queue alone would lose it, and the
   provider, having had its 2xx, would never send it again.)

``mark_processed()`` appends to ``processed_log`` and sets the flag in one
transaction, so a crash leaves an event either done or not done, never half.
Here "processing" *is* that row, so it happens exactly once.  A real handler with
side effects outside this database (an email, a charge) is at-least-once after a
crash and must be idempotent itself, or record its effect in the same transaction.

This module is blocking sqlite3 with no clock of its own (times are parameters);
``receiver_app`` runs its calls in a worker thread.  One ``threading.Lock``
serializes them: one connection, one statement at a time, and ``close()`` waits
for a call still in flight.  ``accept`` and ``mark_processed`` commit at once;
``acceptance`` and ``processing`` describe the same writes for ``group_commit.py``,
which commits many of them in one transaction (:meth:`Inbox.write_batch`): that is
what the receiver does.

Candour: ids are kept for ever.  Production prunes them, but only after the
provider's whole retry span (days, see the spec's retry schedule), not after the
5-minute timestamp window: every retry carries a *fresh* timestamp and the same id.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .group_commit import Done, Work, run_batch

DB_NAME = "inbox.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    scheme TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (processed, seq);
CREATE TABLE IF NOT EXISTS processed_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE REFERENCES inbox (msg_id),
    processed_at INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class InboxEvent:
    """One accepted delivery; ``body`` is the raw JSON text exactly as it was signed."""

    msg_id: str
    type: str
    body: str
    scheme: str  # "standard" or "github": which signature let it in


class Inbox:
    """Accepted deliveries on disk.  Every method blocks; call them from a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # isolation_level=None: we write BEGIN/COMMIT ourselves (``with self._db`` commits).
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL + synchronous=FULL: each commit is fsync'ed before we answer 202,
        # so "accepted" survives a power cut, not only a crash of this process.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path) -> Inbox:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_NAME)

    def accept(self, event: InboxEvent, now: int) -> bool:
        """Record ``event``; True if it is new, False if its id was accepted before."""
        return self._write(self.acceptance(event, now))

    def acceptance(self, event: InboxEvent, now: int) -> Callable[[sqlite3.Connection], bool]:
        """The write ``accept`` commits: one row, unless the id is there already (then False)."""
        def insert(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT INTO inbox (msg_id, type, body, scheme, received_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (msg_id) DO NOTHING",
                (event.msg_id, event.type, event.body, event.scheme, now))
            return cursor.rowcount == 1

        return insert

    def write_batch(self, works: Sequence[Work]) -> list[Done]:
        """Every write in one transaction, one fsync (``group_commit.run_batch``)."""
        with self._lock:
            return run_batch(self._db, works)

    def _write(self, work: Callable[[sqlite3.Connection], bool]) -> bool:
        """One write, one transaction of its own."""
        [done] = self.write_batch([work])
        if done.error is not None:
            raise done.error
        return done.result

    def unprocessed(self) -> list[InboxEvent]:
        """Accepted but not yet processed, oldest first: the queue to refill on start-up."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, type, body, scheme FROM inbox WHERE processed = 0 ORDER BY seq").fetchall()
        return [InboxEvent(*row) for row in rows]

    def get(self, msg_id: str) -> InboxEvent | None:
        with self._lock:
            row = self._db.execute("SELECT msg_id, type, body, scheme FROM inbox WHERE msg_id = ?",
                                   (msg_id,)).fetchone()
        return InboxEvent(*row) if row else None

    def mark_processed(self, msg_id: str, now: int) -> bool:
        """Log ``msg_id`` as processed and set its flag, atomically; False if it already was."""
        return self._write(self.processing(msg_id, now))

    def processing(self, msg_id: str, now: int) -> Callable[[sqlite3.Connection], bool]:
        """The write ``mark_processed`` commits: the flag and the log row, or nothing (False)."""
        def mark(db: sqlite3.Connection) -> bool:
            cursor = db.execute("UPDATE inbox SET processed = 1 WHERE msg_id = ? AND processed = 0",
                                (msg_id,))
            if cursor.rowcount != 1:
                return False  # unknown id, or done already: never log an event twice
            db.execute("INSERT INTO processed_log (msg_id, processed_at) VALUES (?, ?)", (msg_id, now))
            return True

        return mark

    def processed(self) -> list[InboxEvent]:
        """Processed events in the order they were processed."""
        with self._lock:
            return self.processed_unlocked()

    def counts(self) -> dict[str, int]:
        """``accepted`` and ``processed`` as recorded on disk (they survive restarts)."""
        with self._lock:
            return self.counts_unlocked()

    def processed_unlocked(self) -> list[InboxEvent]:
        rows = self._db.execute(
            "SELECT i.msg_id, i.type, i.body, i.scheme FROM processed_log p"
            " JOIN inbox i ON i.msg_id = p.msg_id ORDER BY p.seq").fetchall()
        return [InboxEvent(*row) for row in rows]

    def counts_unlocked(self) -> dict[str, int]:
        accepted, processed = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(processed), 0) FROM inbox").fetchone()
        return {"accepted": accepted, "processed": processed}

    def snapshot(self) -> tuple[list[InboxEvent], dict[str, int]]:
        """Processed events and the counts, read together: the counts never run ahead of the list."""
        with self._lock:  # mark_processed commits under the same lock, so nothing lands in between
            return self.processed_unlocked(), self.counts_unlocked()

    def close(self) -> None:
        with self._lock:  # waits for a statement still running in another thread
            self._db.close()
