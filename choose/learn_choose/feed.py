"""The one live feature: a price feed whose events every method delivers.

An event is ``{"seq": 7, "made": 1765141234.123456, "price": 101.25}``: ``seq``
counts from 1 without gaps (so a client sees a loss as a gap), ``made`` is the
wall-clock time the server made it (the lab subtracts it from the client's
clock at arrival: both run on one machine, so one clock).

The log is append-only, kept in memory and, with a journal file, on disk: a
restarted server continues the numbering and can still replay what a client
missed, so every method with a cursor (``since=``, ``Last-Event-ID``, the
WebSocket's ``resume``) loses nothing across a restart.

Pure logic (the log, cursors, the wire encoding) is at the top; the asyncio part
(waiting for the next event) is the ``wait_after`` method at the bottom.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Event:
    seq: int
    made: float
    price: float

    def json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        data = json.loads(text)
        return cls(int(data["seq"]), float(data["made"]), float(data["price"]))


class BadCursor(ValueError):
    """A ``since=`` cursor the feed cannot answer: the server replies 400 and keeps serving."""


def parse_cursor(text: str | None, last: int) -> int:
    """The ``since`` cursor as a number: absent is 0 ("from the start"), else 0..last."""
    if text is None or text == "":
        return 0
    if not text.isdigit() or len(text) > 18:
        raise BadCursor(f"since must be a non-negative integer, got {text[:40]!r}")
    value = int(text)
    if value > last:  # a cursor from the future: another server's numbering, or a typo
        raise BadCursor(f"since={value} is ahead of the newest event ({last})")
    return value


class Feed:
    """The event log, optionally journalled to ``path`` (one JSON line per event)."""

    def __init__(self, path: Path | None = None, start_price: float = 100.0) -> None:
        self.path = path
        self.events: list[Event] = []
        if path is not None and path.exists():
            self.events = [Event.from_json(line) for line in path.read_text().splitlines() if line.strip()]
        self.price = self.events[-1].price if self.events else start_price
        self._changed = asyncio.Event()
        self.closed = False  # set on shutdown: every open stream ends, so clients reconnect elsewhere

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    @property
    def last(self) -> int:
        return self.events[-1].seq if self.events else 0

    def latest(self) -> Event | None:
        return self.events[-1] if self.events else None

    def since(self, seq: int) -> list[Event]:
        """Every event after ``seq`` (seq numbers are list positions + 1)."""
        return self.events[seq:]

    def publish(self, count: int = 1) -> list[Event]:
        """Make ``count`` events at once (one burst: no await between them)."""
        made = []
        for _ in range(count):
            seq = self.last + 1
            # A deterministic walk, so every run of the schedule has the same prices.
            self.price = round(self.price + (0.25 if seq % 3 else -0.5), 2)
            event = Event(seq, time.time(), self.price)
            self.events.append(event)
            made.append(event)
        if self.path is not None:
            with self.path.open("a") as journal:
                journal.write("".join(e.json() + "\n" for e in made))
        self._changed.set()  # wake every waiter once; each re-reads the log from its own cursor
        self._changed = asyncio.Event()
        return made

    async def wait_after(self, seq: int, timeout: float | None) -> list[Event]:
        """Events after ``seq``; if none yet, wait up to ``timeout`` s for some ([] on time-out)."""
        if self.last > seq or self.closed:
            return self.since(seq)
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return []
        return self.since(seq)
