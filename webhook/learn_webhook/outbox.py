"""The provider's durable outbox: subscriptions, events and their deliveries, in SQLite.

Reading order: signatures -> **outbox** -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

**Why an outbox.**  ``POST /events`` must not answer 202 and then lose the event if
the process dies a millisecond later; nor may it make the caller wait while we
call every subscriber.  So the event *and one delivery row per matching
subscription* are committed in one transaction before the API answers, and the
dispatcher works from those rows.  Either both exist on disk or neither does: no
event without its deliveries, no delivery of an event that was never stored.

**A delivery's life** is a small state machine; :data:`DELIVERY` is the whole of
it, and every write below goes through :func:`transition`::

    PENDING   --delivered--> DELIVERED
    PENDING   --retry-->     PENDING
    PENDING   --dead-->      DEAD
    DELIVERED --redeliver--> PENDING
    DEAD      --redeliver--> PENDING

``add_event`` creates each delivery PENDING; ``delivered`` is a 2xx; ``retry`` a
failure with attempts left; ``dead`` a failure with none left (or 410 Gone);
``redeliver`` (by hand) resets the attempts to 0 and keeps the delivery id.  A
move the table lacks is :class:`IllegalTransition`, which the API answers with
409 (redelivering a delivery that is still PENDING).

The delivery id (``msg_...``) is the ``webhook-id`` header: the same on every
attempt and every redelivery, so the receiver can recognise a repeat (Standard
Webhooks, "Webhook metadata": an idempotency key that "remains the same no matter
how many times a webhook that has failed is retried").

**Crash safety without an "in flight" state.**  Nothing is written when an attempt
starts: the dispatcher keeps the ids it is working on in memory.  If the process
dies mid-attempt, the row is simply still PENDING and is sent again after the
restart, with the same id.  That is *at-least-once* delivery: the receiver may see
a webhook twice and must dedupe on ``webhook-id``; it never misses one.  (Several
dispatcher processes would need a lease column, ``claimed_until``, or PostgreSQL's
``SELECT ... FOR UPDATE SKIP LOCKED``: one process is enough here.)

Durability as in ``learn_sse.event_log``: WAL, ``synchronous=FULL``; blocking methods,
serialised by a lock, that asyncio code runs in a worker thread.  The two writes on
the hot path come in two forms: ``add_event`` / ``record_attempt`` commit at once (one
transaction, one fsync each), while ``new_event`` / ``attempt_record`` only *describe*
the same write, so that ``group_commit.py`` can put many of them into one transaction
(:meth:`Outbox.write_batch`).  The server uses the second form; the tests use both.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from wirelab_common.state_table import BadTransition, StateTable

from .group_commit import Done, Work, run_batch
from .retry_schedule import Delivered, GiveUp, Outcome, Retry

DB_NAME = "outbox.sqlite3"


class State(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"


DELIVERY = StateTable("delivery", {
    (State.PENDING, "delivered"): State.DELIVERED,
    (State.PENDING, "retry"): State.PENDING,
    (State.PENDING, "dead"): State.DEAD,
    (State.DELIVERED, "redeliver"): State.PENDING,
    (State.DEAD, "redeliver"): State.PENDING,
})


class IllegalTransition(Exception):
    """A move :data:`DELIVERY` lacks, for one delivery (the API's 409)."""

    def __init__(self, delivery_id: str, bad: BadTransition) -> None:
        super().__init__(f"delivery {delivery_id}: {bad}")
        self.state = bad.state


class NotFound(LookupError):
    pass


def transition(delivery_id: str, state: State, happened: str) -> State:
    """The state after ``happened`` (pure); IllegalTransition names the delivery, the state and the event."""
    try:
        return DELIVERY.next(state, happened)  # type: ignore[return-value]
    except BadTransition as bad:
        raise IllegalTransition(delivery_id, bad) from None


def random_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Job:
    """Everything one attempt needs, read in the same query that claims it."""

    delivery_id: str
    event_id: str
    event_type: str
    body: bytes
    url: str
    secrets: tuple[str, ...]  # every active secret, newest first: one signature each
    github_secret: str | None
    attempts: int  # made so far (this one will be attempts + 1)
    subscription_id: str = ""  # the endpoint: the dispatcher limits attempts in flight per endpoint


SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, url TEXT NOT NULL,
    secrets TEXT NOT NULL,   -- JSON [{"secret": "whsec_...", "expires": null | unix time}], newest first
    github_secret TEXT,      -- NULL: no X-Hub-Signature-256 header
    event_types TEXT,        -- JSON list of types, or NULL for every type
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL,
    body TEXT NOT NULL,      -- the exact bytes every attempt sends and signs
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order: the older delivery goes first
    id TEXT NOT NULL UNIQUE,                 -- msg_...: the webhook-id header, kept across retries
    event_id TEXT NOT NULL REFERENCES events(id),
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL,
    last_status INTEGER, last_error TEXT, last_latency_ms REAL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id), attempt INTEGER NOT NULL,
    started REAL NOT NULL, status INTEGER, error TEXT, latency_ms REAL NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery_id);
"""
DELIVERY_COLUMNS = ("d.id, d.event_id, d.subscription_id, e.type, d.state, d.attempts, d.next_attempt_at, "
                    "d.last_status, d.last_error, d.last_latency_ms, d.updated")
DELIVERY_KEYS = [c.split(".")[1] for c in DELIVERY_COLUMNS.split(", ")]
DELIVERY_KEYS[3] = "event_type"
FROM_DELIVERIES = "FROM deliveries d JOIN events e ON e.id = d.event_id"


class Outbox:
    """The SQLite file.  Blocking methods: asyncio code calls them via ``asyncio.to_thread``."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time,
                 new_id: Callable[[str], str] = random_id) -> None:
        self.clock = clock
        self.new_id = new_id
        self._lock = threading.Lock()  # one connection, one statement at a time, any thread
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # a commit appends to one file
        self._db.execute("PRAGMA synchronous=FULL")  # ...and is fsync'ed: it survives a power cut
        self._db.executescript(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path, **kwargs) -> Outbox:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_NAME, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> object:
        """Run ``work`` in one IMMEDIATE transaction: all of it commits, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def write_batch(self, works: Sequence[Work]) -> list[Done]:
        """Every write in one transaction, one fsync (``group_commit.run_batch``)."""
        with self._lock:
            return run_batch(self._db, works)

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- subscriptions ---------------------------------------------------------------

    def add_subscription(self, url: str, secret: str, github_secret: str | None = None,
                         event_types: Sequence[str] | None = None) -> dict:
        sub_id, now = self.new_id("sub"), self.clock()
        types = compact(sorted(set(event_types))) if event_types is not None else None
        self._write(lambda db: db.execute(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
            (sub_id, url, compact([{"secret": secret, "expires": None}]), github_secret, types, now)))
        return self.subscription(sub_id)

    def rotate_secret(self, sub_id: str, new_secret: str, grace: float) -> dict:
        """Sign with ``new_secret`` from now on, and with the old ones for ``grace`` more seconds.

        Both signatures travel in one ``webhook-signature`` header (Standard Webhooks,
        "Webhook headers": zero-downtime rotation), so the receiver can switch to the
        new secret whenever it likes within the grace period.
        """
        now = self.clock()

        def rotate(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT secrets FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
            if row is None:
                raise NotFound(f"no subscription {sub_id}")
            old = [{"secret": s["secret"], "expires": s["expires"] or now + grace}
                   for s in json.loads(row[0]) if s["expires"] is None or s["expires"] > now]
            db.execute("UPDATE subscriptions SET secrets = ? WHERE id = ?",
                       (compact([{"secret": new_secret, "expires": None}, *old]), sub_id))

        self._write(rotate)
        return self.subscription(sub_id)

    def subscription(self, sub_id: str) -> dict:
        rows = self._read("SELECT id, url, secrets, github_secret, event_types, created "
                          "FROM subscriptions WHERE id = ?", (sub_id,))
        if not rows:
            raise NotFound(f"no subscription {sub_id}")
        id_, url, secrets_json, github, types, created = rows[0]
        return {"id": id_, "url": url, "secrets": json.loads(secrets_json), "github_secret": github,
                "event_types": json.loads(types) if types else None, "created": created}

    def subscriptions(self) -> list[dict]:
        rows = self._read("SELECT id FROM subscriptions ORDER BY created")
        return [self.subscription(row[0]) for row in rows]

    # -- events and their deliveries: one transaction -------------------------------------

    def add_event(self, type_: str, payload: object) -> tuple[str, list[str]]:
        """Store an event and one PENDING delivery per matching subscription; return their ids."""
        return self._write(self.new_event(type_, payload))  # type: ignore[return-value]

    def new_event(self, type_: str, payload: object) -> Callable[[sqlite3.Connection], tuple[str, list[str]]]:
        """The write ``add_event`` commits: the event and its deliveries; it returns their ids.

        The body follows the spec's recommended payload structure (Standard Webhooks,
        "Payload structure": ``type``, ``timestamp`` of the event, ``data``), serialised
        once, here: every attempt sends and signs exactly these bytes.
        """
        event_id, now = self.new_id("evt"), self.clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = compact({"type": type_, "timestamp": stamp, "data": payload})

        def insert(db: sqlite3.Connection) -> tuple[str, list[str]]:
            db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                       (event_id, type_, compact(payload), body, now))
            ids = []
            for sub_id, types in db.execute("SELECT id, event_types FROM subscriptions ORDER BY created"):
                if types is None or type_ in json.loads(types):
                    ids.append(self.new_id("msg"))
                    db.execute("INSERT INTO deliveries (id, event_id, subscription_id, state, attempts, "
                               "next_attempt_at, updated) VALUES (?, ?, ?, ?, 0, ?, ?)",
                               (ids[-1], event_id, sub_id, State.PENDING, now, now))
            return event_id, ids

        return insert

    # -- the dispatcher's side: claim, then record ------------------------------------------

    def claim_due(self, now: float, limit: int, busy: Sequence[str] = (),
                  full: Sequence[str] = ()) -> tuple[list[Job], float | None]:
        """Up to ``limit`` PENDING deliveries due at ``now`` and not ``busy`` (in flight), oldest first.

        Deliveries to the subscriptions in ``full`` (the endpoints that have as many attempts
        in flight as they may) are left out.  Also returns when the next one not taken falls
        due (None: nothing pending), so the dispatcher knows how long it may sleep.
        Claiming writes nothing: see the module docstring, "crash safety".
        """
        not_busy = f"AND d.id NOT IN ({','.join('?' * len(busy))})" if busy else ""
        not_full = f"AND d.subscription_id NOT IN ({','.join('?' * len(full))})" if full else ""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.id, d.event_id, e.type, e.body, s.url, s.secrets, s.github_secret, d.attempts, "
                "s.id "
                "FROM deliveries d JOIN events e ON e.id = d.event_id "
                "JOIN subscriptions s ON s.id = d.subscription_id "
                f"WHERE d.state = 'PENDING' AND d.next_attempt_at <= ? {not_busy} {not_full} "
                "ORDER BY d.next_attempt_at, d.seq LIMIT ?", (now, *busy, *full, limit)).fetchall()
            taken = [*busy, *(row[0] for row in rows)]
            not_taken = f"AND id NOT IN ({','.join('?' * len(taken))})" if taken else ""
            (next_due,) = self._db.execute(
                f"SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'PENDING' {not_taken}",
                taken).fetchone()
        jobs = []
        for id_, event_id, type_, body, url, secrets_json, github, attempts, sub_id in rows:
            active = tuple(s["secret"] for s in json.loads(secrets_json)
                           if s["expires"] is None or s["expires"] > now)
            jobs.append(Job(id_, event_id, type_, body.encode(), url, active, github, attempts, sub_id))
        return jobs, next_due

    def record_attempt(self, delivery_id: str, attempt: int, started: float, status: int | None,
                       error: str | None, latency_ms: float, outcome: Outcome) -> State:
        """Log one attempt and apply its outcome, in one transaction; returns the new state."""
        return self._write(self.attempt_record(  # type: ignore[return-value]
            delivery_id, attempt, started, status, error, latency_ms, outcome))

    def attempt_record(self, delivery_id: str, attempt: int, started: float, status: int | None,
                       error: str | None, latency_ms: float,
                       outcome: Outcome) -> Callable[[sqlite3.Connection], State]:
        """The write ``record_attempt`` commits: the attempt's log row and the delivery's new state."""
        happened = {Delivered: "delivered", Retry: "retry", GiveUp: "dead"}[type(outcome)]
        now = self.clock()

        def record(db: sqlite3.Connection) -> State:
            row = db.execute("SELECT state FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            new = transition(delivery_id, State(row[0]), happened)
            db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?)",
                       (delivery_id, attempt, started, status, error, latency_ms))
            due = outcome.at if isinstance(outcome, Retry) else now
            last_error = f"gave up: {outcome.reason}" if isinstance(outcome, GiveUp) and not error else error
            db.execute("UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_status = ?, "
                       "last_error = ?, last_latency_ms = ?, updated = ? WHERE id = ?",
                       (new, attempt, due, status, last_error, latency_ms, now, delivery_id))
            return new

        return record

    # -- redelivery -------------------------------------------------------------------------

    def redeliver(self, delivery_id: str) -> dict:
        """DEAD or DELIVERED -> PENDING now, attempts reset, same id; IllegalTransition if PENDING."""
        self._write(lambda db: self._redeliver(db, [delivery_id]))
        return self.delivery(delivery_id)

    def redeliver_dead(self) -> list[str]:
        """Every DEAD delivery back to PENDING (after an outage): their ids, oldest first."""

        def all_dead(db: sqlite3.Connection) -> list[str]:
            ids = [r[0] for r in db.execute("SELECT id FROM deliveries WHERE state = 'DEAD' ORDER BY seq")]
            self._redeliver(db, ids)
            return ids

        return self._write(all_dead)  # type: ignore[return-value]

    def _redeliver(self, db: sqlite3.Connection, ids: Sequence[str]) -> None:
        now = self.clock()
        for delivery_id in ids:
            row = db.execute("SELECT state FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            new = transition(delivery_id, State(row[0]), "redeliver")
            db.execute("UPDATE deliveries SET state = ?, attempts = 0, next_attempt_at = ?, updated = ? "
                       "WHERE id = ?", (new, now, now, delivery_id))

    # -- the delivery log -------------------------------------------------------------------

    def deliveries(self, state: State | None = None, limit: int = 100) -> list[dict]:
        """The newest ``limit`` deliveries (in ``state``), newest first."""
        where = "WHERE d.state = ?" if state else ""
        rows = self._read(f"SELECT {DELIVERY_COLUMNS} {FROM_DELIVERIES} {where} ORDER BY d.seq DESC LIMIT ?",
                          (state, limit) if state else (limit,))
        return [dict(zip(DELIVERY_KEYS, row, strict=True)) for row in rows]

    def delivery(self, delivery_id: str) -> dict:
        """One delivery with every attempt made, in order."""
        rows = self._read(f"SELECT {DELIVERY_COLUMNS} {FROM_DELIVERIES} WHERE d.id = ?", (delivery_id,))
        if not rows:
            raise NotFound(f"no delivery {delivery_id}")
        attempts = self._read("SELECT attempt, started, status, error, latency_ms FROM attempts "
                              "WHERE delivery_id = ? ORDER BY rowid", (delivery_id,))
        keys = ("attempt", "started", "status", "error", "latency_ms")
        return {**dict(zip(DELIVERY_KEYS, rows[0], strict=True)),
                "attempt_log": [dict(zip(keys, a, strict=True)) for a in attempts]}

    def counts(self) -> dict[str, int]:
        counted = dict(self._read("SELECT state, COUNT(*) FROM deliveries GROUP BY state"))
        return {state.value: counted.get(state.value, 0) for state in State}
