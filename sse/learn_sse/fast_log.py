"""The fast path of the event log's bell, kept apart from the lesson.

Reading order: after event_log and fast_response; only for the benchmark's sake.

``event_log.py`` rings its bell with an :class:`asyncio.Event`: ``set()`` wakes
every waiting stream at once, so with 1,000 streams the event loop runs 1,000
sends back to back before it looks at its sockets again.  Meanwhile the next
``POST /publish`` waits unread in its socket; once read, its SQLite commit
(an fsync, in a thread) runs while the loop has nothing else to do, and only
then do the 1,000 streams wake again.  Send, idle, send, idle.

:class:`PacedEventLog` wakes the waiters in slices of :data:`SLICE`, one slice
per turn of the event loop, and the loop polls its sockets between two turns.
So the next publication is read, and its commit runs in its thread, while the
streams are still sending the previous event; a stream woken late finds both
events in the window and sends them as one chunk (``app.subscribe`` already
joins what one wake-up finds).  Fewer, larger writes, and no idle loop.

The commit's thread needs the GIL between its SQLite calls, and a thread that
asks for it while the loop's thread is busy sending waits up to the
interpreter's switch interval (5 ms by default) each time.  So the server, when
it uses this log, lowers the interval to :data:`SWITCH_INTERVAL` (``server.py``;
``sys.setswitchinterval``, a setting of the whole process; the README's
benchmark section has the runs with and without it).

Nothing else changes: the same window, the same store and its fsync before an
event is visible, the same ``wait_beyond`` contract (it returns when an event
newer than the cursor exists, or the log closed).  Every waiter of a ring is
woken, in the order it began to wait.  The server uses this log by default;
``--plain-response`` picks the lesson's (``tests/sse/test_fast_log.py`` checks
that both wake every waiter and deliver the same events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .event_log import Event, EventLog, EventStore

SLICE = 64  # waiters woken per turn of the event loop
SWITCH_INTERVAL = 0.0005  # s; the server sets it (sys.setswitchinterval) with this log: see above


class PacedBell:
    """A bell whose ring wakes its waiters ``SLICE`` at a time, one slice per loop turn."""

    def __init__(self, slice_size: int = SLICE) -> None:
        self.slice_size = slice_size
        self._waiters: list[asyncio.Future[None]] = []

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter  # a cancelled waiter (a client gone) is skipped by the ring

    def ring(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next ring."""
        waiters, self._waiters = self._waiters, []
        if waiters:
            self._wake(waiters, 0)

    def _wake(self, waiters: list[asyncio.Future[None]], start: int) -> None:
        end = start + self.slice_size
        for waiter in waiters[start:end]:
            if not waiter.done():
                waiter.set_result(None)
        if end < len(waiters):  # the rest after the loop's next look at its sockets
            asyncio.get_running_loop().call_soon(self._wake, waiters, end)


class PacedEventLog(EventLog):
    """The lesson's :class:`EventLog` with a :class:`PacedBell`."""

    def __init__(self, store: EventStore, replay: int,
                 on_append: Callable[[Event], None] | None = None) -> None:
        super().__init__(store, replay, on_append)
        self._bell = PacedBell()  # type: ignore[assignment]  # wait() as asyncio.Event's

    def _ring(self) -> None:
        self._bell.ring()  # type: ignore[attr-defined]
