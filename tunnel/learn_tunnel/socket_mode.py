"""Slack-style Socket Mode: envelopes pushed down agents' WebSockets, acknowledged by id (pure).

Reading order: relay / agent -> **socket_mode** -> socket_hub -> socket_agent -> demo.

The second card that shares the tunnel's idea: a bot with no public URL opens
WebSockets *out* to the platform, and events come *down* them.  Each event
travels in an envelope (the fields are Slack's)::

    {"envelope_id": "e-7", "type": "events_api", "payload": {...},
     "retry_attempt": 0, "retry_reason": ""}

and the bot answers ``{"envelope_id": "e-7"}`` once it has handled it.  The
:class:`Dispatcher` is the relay's side, with the clock and the ids injected:

- envelopes wait in a queue and go to the app's connections in turn, at most
  ``max_in_flight`` unacknowledged per connection (so a slow one gets fewer);
- an envelope not acknowledged ``ack_deadline`` seconds after it was sent is
  put back and sent again (``retry_reason: "timeout"``, ``retry_attempt + 1``),
  to whichever connection is free: delivery is *at least once*; an ack from
  any of the app's connections settles it, wherever it is by then;
- a connection that closes gives its unacknowledged envelopes back at once
  (``retry_reason: "connection_closed"``): an agent that dies loses nothing.

At least once means an envelope can arrive twice (the first agent was slow,
not dead).  So the agents make their *processing* exactly once: the effect
and the envelope id are written in one transaction, and an id already there
is acknowledged without being processed again (``socket_agent.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    payload: dict[str, Any]
    type: str = "events_api"
    retry_attempt: int = 0
    retry_reason: str = ""

    def message(self) -> dict[str, Any]:
        """The JSON object sent down the WebSocket."""
        return {"envelope_id": self.envelope_id, "type": self.type, "payload": self.payload,
                "retry_attempt": self.retry_attempt, "retry_reason": self.retry_reason}


@dataclass
class InFlight:
    envelope: Envelope
    connection: str
    deadline: float


@dataclass
class Dispatcher:
    """One app's envelopes and connections.  ``now`` is passed in: no clock here."""

    ack_deadline: float = 3.0  # Slack's: an event must be acknowledged within 3 seconds
    max_in_flight: int = 4
    new_id: Callable[[], str] = field(default_factory=lambda: (f"e-{n}" for n in count(1)).__next__)
    queue: deque[Envelope] = field(default_factory=deque)
    in_flight: dict[str, InFlight] = field(default_factory=dict)
    connections: list[str] = field(default_factory=list)
    turn: int = 0  # round robin over connections
    acked: int = 0
    redelivered: int = 0

    def publish(self, payload: dict[str, Any]) -> str:
        envelope = Envelope(self.new_id(), payload)
        self.queue.append(envelope)
        return envelope.envelope_id

    def connect(self, connection: str) -> None:
        self.connections.append(connection)

    def disconnect(self, connection: str) -> list[Envelope]:
        """The connection closed: its unacknowledged envelopes go back to the front of the queue."""
        self.connections.remove(connection)
        back = [f.envelope for f in self.in_flight.values() if f.connection == connection]
        for envelope in reversed(back):
            del self.in_flight[envelope.envelope_id]
            self._requeue(envelope, "connection_closed")
        return back

    def ack(self, connection: str, envelope_id: str) -> bool:
        """An acknowledgement by id, from any of the app's connections; False if it is not pending.

        Any connection may acknowledge: after a timeout the envelope may have
        moved on to another connection (or back to the queue) while the first
        agent finished it after all.  Its ack still means "handled".
        """
        if envelope_id in self.in_flight:
            del self.in_flight[envelope_id]
        elif any(e.envelope_id == envelope_id for e in self.queue):
            self.queue = deque(e for e in self.queue if e.envelope_id != envelope_id)
        else:
            return False  # already acknowledged (a second agent's ack), or never sent
        self.acked += 1
        return True

    def expire(self, now: float) -> list[Envelope]:
        """Envelopes past their deadline go back to the queue, to be sent again."""
        late = [f.envelope for f in self.in_flight.values() if f.deadline <= now]
        for envelope in reversed(late):
            del self.in_flight[envelope.envelope_id]
            self._requeue(envelope, "timeout")
        return late

    def deliveries(self, now: float) -> Iterator[tuple[str, Envelope]]:
        """(connection, envelope) pairs to send now, in turn, within each connection's limit."""
        while self.queue and self.connections:
            free = [c for c in self._in_turn() if self._load(c) < self.max_in_flight]
            if not free:
                return
            connection = free[0]
            self.turn = (self.connections.index(connection) + 1) % len(self.connections)
            envelope = self.queue.popleft()
            self.in_flight[envelope.envelope_id] = InFlight(envelope, connection, now + self.ack_deadline)
            yield connection, envelope

    def next_deadline(self) -> float | None:
        return min((f.deadline for f in self.in_flight.values()), default=None)

    def _in_turn(self) -> list[str]:
        start = self.turn % len(self.connections)
        return self.connections[start:] + self.connections[:start]

    def _load(self, connection: str) -> int:
        return sum(1 for f in self.in_flight.values() if f.connection == connection)

    def _requeue(self, envelope: Envelope, reason: str) -> None:
        self.redelivered += 1
        again = replace(envelope, retry_attempt=envelope.retry_attempt + 1, retry_reason=reason)
        self.queue.appendleft(again)  # first in line: it has waited longest
