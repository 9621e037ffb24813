"""Legacy HTTP sessions and their SSE event logs (Streamable HTTP as of 2025-11-25).

Reading order: ... -> server_core -> stdio_transport / **sessions** + http_headers + http_transport
-> server.

Revision 2025-11-25 basic/transports §Session Management and §Resumability:

- ``initialize`` over HTTP creates a session; the server names it in the
  ``Mcp-Session-Id`` response header and the client repeats it on every later
  request.  Each session has its own handshake state (a lifecycle.Lifecycle).
- Every SSE stream the server opens (the response stream of a POST, or the
  optional GET stream) is an :class:`EventStream`: an append-only log whose
  events have ids ``<stream>-<n>``.  A client whose connection broke sends GET
  with ``Last-Event-ID: <stream>-<n>``; the server replays that stream's events
  after ``n`` and then keeps following it.  The server may also end a
  connection itself before its stream is done (:meth:`EventStream.pause`: SSE
  polling, SEP-1699); the client comes back the same way.  An id names one stream, so a replay
  never mixes in another stream's messages (a MUST NOT of §Resumability).
- DELETE with the session id ends the session: its tasks are cancelled, its
  streams closed, and the id answers 404 from then on.

Revision 2026-07-28 removed all of this (no sessions, no GET stream, no
resumption); the http_transport serves such requests without touching this file.

Bounded: at most ``max_sessions`` sessions (the oldest is ended to make room),
``MAX_STREAMS`` streams and ``MAX_EVENTS`` events kept per session or stream; a
closed stream is forgotten ``STREAM_TTL`` seconds after it closed.  A ``Last-Event-ID``
the log cannot continue (unknown stream, an id never sent, or one whose successors
fell off the front) is refused with 404 rather than replayed with a gap.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from .jsonrpc import RequestId
from .lifecycle import Lifecycle
from .outbox import Outbox

MAX_STREAMS = 64
MAX_EVENTS = 1000
STREAM_TTL = 300.0  # seconds a closed stream stays resumable (a client that broke off may come back)


class EventStream:
    """One SSE stream's events, kept so a reconnecting client can pick up where it left off."""

    def __init__(self, stream_id: str) -> None:
        self.id = stream_id
        self.events: list[tuple[str, str]] = []  # (event id, data)
        self.first = 0  # sequence number of events[0] (old events fall off the front)
        self.closed = False
        self.attached = False  # is a client reading it right now?
        # Sequence numbers at which the server ended the connection reading it (pause()):
        # a reader started before the k-th pause stops at cuts[k].
        self.cuts: list[int] = []
        self.closed_at: float | None = None  # time.monotonic() of close(), for expiry
        self._wakeup = asyncio.Event()

    def append(self, data: str) -> str:
        event_id = f"{self.id}-{self.first + len(self.events)}"
        self.events.append((event_id, data))
        if len(self.events) > MAX_EVENTS:
            self.events.pop(0)
            self.first += 1
        self._notify()
        return event_id

    def close(self) -> None:
        self.closed = True
        self.closed_at = time.monotonic()
        self._notify()

    def pause(self) -> None:
        """End the connection reading this stream now, but not the stream (SEP-1699 polling).

        Whoever follows it at this moment gets the events appended so far and then
        its end; later events wait in the log until the client comes back with
        ``GET`` + ``Last-Event-ID``.  Only worth doing once an event id went out
        (the priming event), or the client has nothing to resume from.
        """
        self.cuts.append(self.first + len(self.events))
        self._notify()

    def knows(self, number: int) -> bool:
        """Can a reader resume after event ``number``?  Not if it was never sent, or if
        events after it fell off the front (they would be lost without a word)."""
        return self.first - 1 <= number < self.first + len(self.events)

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def follow(self, after: int = -1, caught_up: bool = False) -> AsyncIterator[tuple[str, str]]:
        """Events with sequence number > ``after``, then new ones as they come, until closed
        (``caught_up``: only those there already; SSE polling, http_get.py) or paused.

        A pause() from the moment of this call on ends the reader, even one whose
        response has not started streaming yet (a tool may pause before that)."""
        return self._follow(after, caught_up, len(self.cuts))

    async def _follow(self, after: int, caught_up: bool, pauses: int) -> AsyncIterator[tuple[str, str]]:
        position = max(after + 1 - self.first, 0)
        while True:
            while position < len(self.events):
                if len(self.cuts) > pauses and self.first + position >= self.cuts[pauses]:
                    return
                yield self.events[position]
                position += 1
            if self.closed or caught_up or len(self.cuts) > pauses:
                return
            wakeup = self._wakeup
            await wakeup.wait()
            # Events dropped off the front while we waited shift the list left.
            position = min(position, len(self.events))


def parse_event_id(value: str) -> tuple[str, int] | None:
    stream_id, _, number = value.rpartition("-")
    return (stream_id, int(number)) if stream_id and number.isdigit() else None


@dataclass
class Session:
    id: str
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    streams: dict[str, EventStream] = field(default_factory=dict)
    standalone: EventStream | None = None  # the GET stream, for messages unrelated to a request
    tasks: dict[RequestId, asyncio.Task] = field(default_factory=dict)
    outbox: Outbox = field(default_factory=Outbox)  # our requests on its streams, awaiting answers
    _next_stream: int = 0

    def new_stream(self) -> EventStream:
        self._next_stream += 1
        stream = EventStream(f"{self.id[:8]}s{self._next_stream}")
        self._expire()
        self.streams[stream.id] = stream
        if len(self.streams) > MAX_STREAMS:
            oldest = next((s for s in self.streams.values() if s.closed), None)
            if oldest is not None:
                del self.streams[oldest.id]
        return stream

    def find(self, stream_id: str) -> EventStream | None:
        """The stream a Last-Event-ID names, unless it is unknown or expired."""
        self._expire()
        return self.streams.get(stream_id)

    def _expire(self) -> None:
        now = time.monotonic()
        expired = [old.id for old in self.streams.values()
                   if old.closed_at is not None and now - old.closed_at > STREAM_TTL]
        for old_id in expired:
            del self.streams[old_id]  # its Last-Event-ID answers 404 from now on

    def end(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        for stream in self.streams.values():
            stream.close()


class SessionStore:
    def __init__(self, new_id: Callable[[], str] | None = None, max_sessions: int = 256) -> None:
        self._new_id = new_id or (lambda: secrets.token_hex(16))  # visible ASCII, unguessable
        self.max_sessions = max_sessions
        self.sessions: dict[str, Session] = {}

    def create(self) -> Session:
        session = Session(self._new_id())
        self.sessions[session.id] = session
        if len(self.sessions) > self.max_sessions:
            self.end(next(iter(self.sessions)))
        return session

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def end(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.end()
        return True

    def end_all(self) -> None:
        for session_id in list(self.sessions):
            self.end(session_id)
