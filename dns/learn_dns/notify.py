"""NOTIFY without I/O (RFC 1996): what to send, when to retry, when to give up, as actions.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> **notify** -> nameserver -> authoritative -> secondary -> wire_cache

When a zone changes, its primary tells every secondary at once with a NOTIFY
(opcode 4) instead of letting it wait for its next SOA refresh.  NOTIFY goes
over UDP, so it can be lost: the primary resends it (with a new id) until the
secondary acknowledges it, a few times at most (RFC 1996 §3.6).  Each
(zone, secondary) pair is one small machine::

    sent --ack-->          acknowledged
    sent --timeout-->      sent
    sent --last_timeout--> given_up
    sent --superseded-->   replaced

``superseded``: the zone changed again before the secondary answered; the
old announcement is forgotten and a new one (new serial) starts at try 1.

:class:`NotifyOutbox` decides all of that and performs none of it.  Its
methods take an event and the time, and return **actions** for the driver
(``authoritative.py``) to carry out: :class:`SendNotify` (one datagram),
:class:`RetryAt` (call :meth:`NotifyOutbox.timer_fired` back at that time),
:class:`Acknowledged` and :class:`GaveUp` (trace lines).  Because the outbox
never touches a socket or a clock, ``tests/dns/test_dns_notify.py`` plays a
lost NOTIFY, a late ack, a forged ack and a second change in microseconds.

The secondary's side is one more action: a NOTIFY from a zone's primary
becomes :class:`RefreshZone` (``nameserver.py``), and the driver wakes the
zone's ``secondary.SecondaryZone``, which checks the serial itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wirelab_common.state_table import StateTable

from .message import Header, Message, Opcode, Question
from .names import Name
from .rdata import CLASS_IN
from .wire import U16
from .zone_data import SOA_TYPE, Zone

NOTIFY_ATTEMPTS = 3     # RFC 1996 §3.6: retry until acknowledged, a few times
NOTIFY_INTERVAL = 1.0   # seconds between tries

NOTIFY = StateTable("notify", {
    ("sent", "ack"): "acknowledged",
    ("sent", "timeout"): "sent",
    ("sent", "last_timeout"): "given_up",
    ("sent", "superseded"): "replaced",
})


def notify_message(zone: Zone, query_id: int) -> Message:
    """NOTIFY (RFC 1996 §3.7): opcode 4, AA set, the zone's SOA as question (and answer, a hint)."""
    return Message(Header(id=query_id, opcode=Opcode.NOTIFY, aa=True),
                   [Question(zone.origin, SOA_TYPE, CLASS_IN)], answers=[zone.soa_record])


@dataclass(frozen=True)
class SendNotify:
    target: str
    wire: bytes
    origin: Name
    serial: int
    attempt: int


@dataclass(frozen=True)
class RetryAt:
    """Call ``timer_fired(query_id, target, now)`` at ``when`` (a no-op if acknowledged by then)."""
    when: float
    query_id: int
    target: str


@dataclass(frozen=True)
class Acknowledged:
    origin: Name
    target: str


@dataclass(frozen=True)
class GaveUp:
    origin: Name
    target: str
    attempts: int


@dataclass(frozen=True)
class RefreshZone:
    """A NOTIFY from the zone's primary: the secondary should check the serial now."""
    origin: Name


Action = SendNotify | RetryAt | Acknowledged | GaveUp | RefreshZone


@dataclass
class _Pending:
    zone: Zone
    target: str
    attempt: int
    state: str = "sent"


class NotifyOutbox:
    """The NOTIFYs a primary has sent and not yet seen acknowledged, keyed by (id, target)."""

    def __init__(self, targets: list[str], next_id: Callable[[], int],
                 attempts: int = NOTIFY_ATTEMPTS, interval: float = NOTIFY_INTERVAL) -> None:
        self.targets = targets
        self.next_id = next_id
        self.attempts = attempts
        self.interval = interval
        self.pending: dict[tuple[int, str], _Pending] = {}

    def zone_changed(self, zone: Zone, now: float) -> list[Action]:
        """A new serial: announce it to every target (replacing an unanswered older announcement)."""
        actions: list[Action] = []
        for target in self.targets:
            for key, old in list(self.pending.items()):
                if old.target == target and old.zone.origin == zone.origin:
                    old.state = NOTIFY.next(old.state, "superseded")
                    del self.pending[key]
            actions += self._send(_Pending(zone, target, 1), now)
        return actions

    def response_received(self, data: bytes, source: str) -> list[Action]:
        """A response at the server port: the ack of a pending NOTIFY, or nothing (ignored)."""
        if len(data) < 12 or (data[2] >> 3) & 0xF != Opcode.NOTIFY:
            return []
        pending = self.pending.pop((U16.unpack_from(data)[0], source), None)
        if pending is None:  # unknown id, or from another address than we sent it to: forged or late
            return []
        pending.state = NOTIFY.next(pending.state, "ack")
        return [Acknowledged(pending.zone.origin, source)]

    def timer_fired(self, query_id: int, target: str, now: float) -> list[Action]:
        """A :class:`RetryAt` came due: resend with a new id, or give up after the last try."""
        pending = self.pending.pop((query_id, target), None)
        if pending is None:
            return []  # acknowledged or superseded meanwhile
        if pending.attempt >= self.attempts:
            pending.state = NOTIFY.next(pending.state, "last_timeout")
            return [GaveUp(pending.zone.origin, target, pending.attempt)]
        pending.state = NOTIFY.next(pending.state, "timeout")
        pending.attempt += 1
        return self._send(pending, now)

    def _send(self, pending: _Pending, now: float) -> list[Action]:
        query_id = self.next_id()
        self.pending[(query_id, pending.target)] = pending
        wire = notify_message(pending.zone, query_id).to_wire()
        return [SendNotify(pending.target, wire, pending.zone.origin, pending.zone.serial, pending.attempt),
                RetryAt(now + self.interval, query_id, pending.target)]
