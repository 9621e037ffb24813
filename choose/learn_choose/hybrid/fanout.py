"""Fan-out bookkeeping: the recent events one server holds, and its subscribers waiting for more.

Reading order: signature -> envelope -> **fanout** -> stream -> app -> server -> upstream ->
clients -> demo.

One reader per server process follows the Redis stream (``stream.py``) and adds
what it reads here; every SSE or WebSocket subscriber of that process reads from
here, not from Redis.  So 1,000 browsers on a server cost it one ``XREAD``, not
1,000.  A subscriber is nothing but a *cursor*: the id of the last event it got.

:meth:`Window.after` answers "what comes after this cursor?":

- a list (maybe empty) of the events after it, when the window covers the cursor;
- ``None`` when the cursor is older than anything the window holds (a browser
  resuming from an id this process never had, because it started later or the
  event scrolled out): the caller then reads that stretch from Redis itself.

No sockets, no Redis: the only asyncio here is the condition subscribers wait on.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable

from .envelope import Event, id_key


class Window:
    """The last ``size`` events read from the stream, oldest first.

    ``floor`` is the id just before the oldest event held: every event after
    ``floor`` that the stream has delivered so far is in the window.  It starts
    at the stream's tip when the reader starts, and moves up as old events are
    dropped to keep ``size``.
    """

    def __init__(self, floor: str, size: int = 1000) -> None:
        if size < 1:
            raise ValueError("a window holds at least one event")
        self.floor = floor
        self.size = size
        self.events: list[Event] = []
        self._keys: list[tuple[int, int]] = []
        self._changed = asyncio.Event()
        self.closed = False

    @property
    def last(self) -> str:
        """The id of the newest event this server has read (a fresh subscriber starts here)."""
        return self.events[-1].id if self.events else self.floor

    def add(self, events: Iterable[Event]) -> int:
        """Append events read from the stream (ids increasing); wake every waiting subscriber."""
        added = 0
        for event in events:
            if self._keys and event.key <= self._keys[-1] or event.key <= id_key(self.floor):
                continue  # already held: a reader that re-read after a reconnect
            self.events.append(event)
            self._keys.append(event.key)
            added += 1
        overflow = len(self.events) - self.size
        if overflow > 0:
            self.floor = self.events[overflow - 1].id
            del self.events[:overflow], self._keys[:overflow]
        if added:
            self._changed.set()
            self._changed = asyncio.Event()  # the next wait needs a fresh one
        return added

    def after(self, cursor: str) -> list[Event] | None:
        """The events after ``cursor``, or None if the window does not reach back that far."""
        key = id_key(cursor)
        if key < id_key(self.floor):
            return None
        return self.events[bisect.bisect_right(self._keys, key):]

    async def wait_beyond(self, cursor: str, timeout: float | None = None) -> bool:
        """Wait until an event after ``cursor`` is held; False once closed (server shutting down).

        With ``timeout``, also returns (True) when it expires, so the caller looks again.
        """
        key = id_key(cursor)
        while not self.closed and not (self._keys and self._keys[-1] > key):
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), timeout)
            except TimeoutError:
                return True
        return not self.closed

    def close(self) -> None:
        """End every subscriber's wait: the server is stopping and its streams should end."""
        self.closed = True
        self._changed.set()
