"""The feed's event log: numbered, durable, replayable events, and a bell for waiters.

Reading order: event_stream -> **event_log** -> feed -> completions -> app -> server;
then client; then the page; then proxy.

What it is for.  An ``EventSource`` that loses its connection reconnects by itself
and sends the ``id:`` of the last event it saw in a ``Last-Event-ID`` request header
(WHATWG HTML §9.2.3 "Processing model", §9.2.4 "The `Last-Event-ID` header").  A
server can only honour that if it can answer "which events came after id N?".  This
module is that answer, in three layers:

1. **The window** (pure: no I/O, no clock, no asyncio).  ``EventWindow`` keeps the
   last ``capacity`` events in memory, ids contiguous, and answers ``after(n)`` with
   the missed events or with a :class:`Gap` (:class:`TooOld`, :class:`AheadOfLog`).
2. **The store** (sqlite3, blocking).  ``EventStore`` writes each event to a file
   and prunes what fell out of the window.  ``AUTOINCREMENT`` makes SQLite remember
   the highest id ever used, so ids continue after a restart even if every row was
   pruned: an id is never handed out twice.
3. **The log** (asyncio).  ``EventLog.append`` stores an event *before* anyone may
   see it, then rings a bell.  Subscribers do not get a queue each: each keeps a
   cursor (the last id it sent) and calls ``after(cursor)`` when the bell rings::

        append("price", data) --> sqlite commit (fsync) --> window --> ring the bell
                                                                        |
        subscriber A: cursor 41 -- wait_beyond(41) wakes --> after(41) = [42]
        subscriber B: cursor 17 (slow reader) ---- after(17) = [18 .. 42]
        subscriber C: cursor 3, window starts at 10 ---- after(3) = TooOld(10)

   A slow subscriber costs little more than its cursor: it lags, and if it falls out
   of the window it is told so (``TooOld``) instead of silently missing events.
   (One process owns a log file: with two servers on one ``--data-dir``, the first
   append that follows one by the other server fails loudly, because the id SQLite
   hands out no longer follows the window's last id; from then on both fail.)

Why store before fan-out: if a client could see id 42 before id 42 was on disk, a
crash could forget 42 and hand the number to a different event after the restart;
that client would then skip the new 42 for ever.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "events.sqlite3"


@dataclass(frozen=True)
class Event:
    """One event of the feed; ``data`` is JSON text, sent as is in the ``data:`` field."""

    id: int
    type: str
    data: str


# -- 1. The window: the pure part ------------------------------------------------------


@dataclass(frozen=True)
class TooOld:
    """The client's last id is older than the window: events it missed are gone."""

    requested: int
    oldest_available: int  # the oldest id still stored (last id + 1 when nothing is)
    reason = "last-event-id too old"


@dataclass(frozen=True)
class AheadOfLog:
    """The client claims an id we never issued (our data dir was wiped, or a typo)."""

    requested: int
    last_id: int
    reason = "last-event-id ahead of the log"


Gap = TooOld | AheadOfLog


class EventWindow:
    """The last ``capacity`` events, keyed by id; ids in the window are contiguous.

    Contiguity is what makes ``after(n)`` a range lookup: the events after ``n`` are
    ``n + 1 .. last_id``, all present if ``n + 1 >= oldest_id``.
    """

    def __init__(self, capacity: int, last_id: int = 0, events: Iterable[Event] = ()) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self.last_id = last_id
        events = list(events)
        ids = [event.id for event in events]
        if ids != list(range(last_id - len(ids) + 1, last_id + 1)):
            raise ValueError(f"a window needs contiguous ids ending at {last_id}, got {ids}")
        self._events = {event.id: event for event in events}
        self._prune()

    @property
    def oldest_id(self) -> int:
        """The oldest id still in the window; ``last_id + 1`` when the window is empty."""
        return self.last_id - len(self._events) + 1

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: Event) -> None:
        if event.id != self.last_id + 1:
            raise ValueError(f"expected event id {self.last_id + 1}, got {event.id}")
        self._events[event.id] = event
        self.last_id = event.id
        self._prune()

    def after(self, last_seen: int) -> list[Event] | Gap:
        """The events a client that saw ``last_seen`` has missed, oldest first.

        ``[]`` means it is up to date.  A client may be exactly one behind the window
        (``last_seen == oldest_id - 1``): it missed nothing that was pruned.
        """
        if last_seen > self.last_id:
            return AheadOfLog(last_seen, self.last_id)
        if last_seen < self.oldest_id - 1:
            return TooOld(last_seen, self.oldest_id)
        return [self._events[i] for i in range(last_seen + 1, self.last_id + 1)]

    def _prune(self) -> None:
        # After an append, at most one id falls out: the oldest.
        while self._events and self.oldest_id <= self.last_id - self.capacity:
            del self._events[self.oldest_id]


# -- 2. The store: sqlite3 ----------------------------------------------------------------


class EventStore:
    """Events on disk in one SQLite file.  Blocking calls: the log runs them in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # check_same_thread=False: writes run in worker threads (asyncio.to_thread), one at
        # a time because EventLog holds a lock around them.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL: a commit appends to one file.  synchronous=FULL: every commit is fsync'ed,
        # so a stored event survives a power cut, not only a crash of this process.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS events ("
                         "id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL)")

    def last_id(self) -> int:
        """The highest id ever issued, even if its row has been pruned since."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return row[0] if row else 0

    def recent(self, limit: int) -> list[Event]:
        rows = self._db.execute("SELECT id, type, data FROM events ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()
        return [Event(*row) for row in reversed(rows)]

    def insert(self, type_: str, data: str, prune_through: int) -> Event:
        """Store one event and delete those at or below ``prune_through``, in one transaction."""
        with self._db:  # BEGIN ... COMMIT (or ROLLBACK on error)
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute("INSERT INTO events (type, data) VALUES (?, ?)", (type_, data))
            if prune_through > 0:
                self._db.execute("DELETE FROM events WHERE id <= ?", (prune_through,))
        assert cursor.lastrowid is not None
        return Event(cursor.lastrowid, type_, data)

    def close(self) -> None:
        self._db.close()


# -- 3. The log: asyncio -----------------------------------------------------------------


class LogClosed(Exception):
    """The log is shutting down and takes no more events."""


class EventLog:
    """Durable append, replay from any id in the window, and a wake-up for waiters.

    ``last_id`` doubles as the version number: a subscriber whose cursor equals
    ``last_id`` is up to date and waits; any other value means there is work.
    """

    def __init__(self, store: EventStore, replay: int,
                 on_append: Callable[[Event], None] | None = None) -> None:
        self._store = store
        self._on_append = on_append  # e.g. a trace line, printed before any subscriber sends it
        last = store.last_id()
        self.window = EventWindow(replay, last, store.recent(min(replay, last)) if replay else [])
        self.closed = False
        self._bell = asyncio.Event()  # replaced on every ring: set() wakes all current waiters
        self._write_lock = asyncio.Lock()

    @classmethod
    def open(cls, data_dir: Path, replay: int, on_append: Callable[[Event], None] | None = None) -> EventLog:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(EventStore(data_dir / DB_NAME), replay, on_append)

    @property
    def last_id(self) -> int:
        return self.window.last_id

    @property
    def oldest_id(self) -> int:
        return self.window.oldest_id

    def after(self, last_seen: int) -> list[Event] | Gap:
        return self.window.after(last_seen)

    async def append(self, type_: str, data: str) -> Event:
        """Store the event, then make it visible; returns it with its new id."""
        if self.closed:
            raise LogClosed("the event log is closed")
        # shield: once the row may be committed, the window and the bell must follow,
        # even if the caller (an HTTP request whose client went away) is cancelled.
        return await asyncio.shield(self._append(type_, data))

    async def _append(self, type_: str, data: str) -> Event:
        async with self._write_lock:  # one writer at a time: ids reach the window in order
            # In a thread: an fsync takes milliseconds, and the event loop must keep
            # streaming to everyone else meanwhile.
            next_id = self.last_id + 1
            event = await asyncio.to_thread(self._store.insert, type_, data,
                                            next_id - self.window.capacity)
            self.window.append(event)
            if self._on_append is not None:
                self._on_append(event)
            self._ring()
            return event

    async def wait_beyond(self, cursor: int) -> bool:
        """Wait until an event newer than ``cursor`` exists; False if the log closed instead."""
        while self.last_id <= cursor and not self.closed:
            await self._bell.wait()
        return not self.closed

    def close(self) -> None:
        """Refuse new events and wake every waiter, so their streams can end."""
        self.closed = True
        self._ring()

    async def aclose(self) -> None:
        """Close the file, after any write still in flight (the lock waits for it)."""
        self.close()
        async with self._write_lock:
            self._store.close()

    def _ring(self) -> None:
        bell, self._bell = self._bell, asyncio.Event()
        bell.set()
