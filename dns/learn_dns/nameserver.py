"""The name server's core, without I/O: bytes of one message in, bytes to send back and actions out.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> notify -> **nameserver** -> authoritative -> secondary -> wire_cache

:meth:`AuthoritativeServer.answer` takes the bytes of one received message
and returns the bytes to send back, whatever the transport.  This is the
plain path, the lesson: decode with the codec, then

- malformed: FORMERR if the header is readable, else nothing;
- a response (QR=1): only a NOTIFY acknowledgement is expected; nothing is sent;
- NOTIFY: acknowledged if it comes from the zone's primary (RFC 1996 §3.7);
- UPDATE (RFC 2136): refused unless signed with one of ``tsig_keys``
  (``tsig.py``) or sent from an address in ``update_from``, then ``update.py``
  decides; a changed zone is installed
  like a reload and announced to the secondaries with NOTIFY;
- a zone transfer (AXFR, IXFR): every record, TCP only (RFC 5936 §4.2);
- any other query: ``answers.respond``, encoded to fit the requester's UDP size.

Everything else a message or an event calls for is an **action** of
``notify.py`` (send a NOTIFY, retry at T, wake a secondary...), not a task or
a socket call: :meth:`reload` and :meth:`notify_timer` return them, and
:meth:`answer` leaves them in :attr:`actions` for the driver
(``authoritative.py``) to take with :meth:`take_actions`.  So the whole core
runs in tests without a socket or an event loop.

Speed lives beside it: ``wire_cache.py`` puts ready-made answer bytes in
front of :meth:`answer` (``--cache``, on by default) and must give exactly
the same bytes (tests/dns/test_dns_wire_cache.py checks it).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from enum import IntEnum

from wirelab_common.wiretrace import Trace, hexdump

from . import tsig
from .answers import make_response, respond, transfer
from .edns import MIN_PAYLOAD
from .message import TCP_LIMIT, Message, Opcode, Rcode
from .names import Name
from .notify import Action, NotifyOutbox, RefreshZone
from .peers import PeerNames
from .rdata import type_name
from .update import UpdateRefused, describe, parse, process
from .wire import FormatError
from .zone_data import Zone, ZoneError, load_zone_file

ZONE_TRANSFER_TYPES = (251, 252)  # IXFR (answered with a full transfer, RFC 1995 §4), AXFR


def formerr(data: bytes) -> bytes:
    """A bare FORMERR: the query's ID, opcode and RD, QR set, no sections (RFC 1035 §4.1.1)."""
    return data[:2] + bytes(((data[2] & 0x79) | 0x80, Rcode.FORMERR)) + b"\0" * 8


def _enum_name(enum: type[IntEnum], value: int) -> str:
    """``"NXDOMAIN"`` for Rcode 3; the number itself for a value without a name."""
    try:
        return enum(value).name
    except ValueError:
        return str(value)


class AuthoritativeServer:
    """The zones, and what every transport calls: :meth:`answer`."""

    def __init__(self, zone_paths: list[str], notify: list[str], trace: Trace, trace_queries: bool,
                 next_id: Callable[[], int]) -> None:
        self.zone_paths = zone_paths
        self.trace = trace
        self.trace_queries = trace_queries
        self.zones: dict[Name, Zone] = {}
        self.primaries: dict[Name, str] = {}  # zones we copy as a secondary -> their primary's address
        self.outbox = NotifyOutbox(notify, next_id)
        self.actions: list[Action] = []       # left by answer() for the driver
        self.on_zone_change: list[Callable[[], None]] = []  # e.g. a cache of answers to empty
        self.peer_names = PeerNames()  # who sends from which address, for the events (peers.py)
        self.update_from: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []  # UPDATE senders allowed
        self.clock: Callable[[], float] = time.monotonic  # for NOTIFY's timers after an UPDATE
        self.tsig_keys: dict[Name, tsig.Key] = {}  # keys that may sign an UPDATE (RFC 8945)
        self.wall_clock: Callable[[], float] = time.time  # TSIG's "time signed" is wall-clock time

    # -- zone data ------------------------------------------------------------

    def load_files(self) -> None:
        for path in self.zone_paths:
            self.install(load_zone_file(path))

    def install(self, zone: Zone) -> None:
        old = self.zones.get(zone.origin)
        self.zones[zone.origin] = zone
        for changed in self.on_zone_change:
            changed()
        serial = f"serial {old.serial} -> {zone.serial}" if old else f"serial {zone.serial}"
        self.trace.state(f"zone {zone.origin} {serial} ({len(zone)} records, {zone.source})")

    def reload(self, now: float) -> list[Action]:
        """SIGHUP: re-read the zone files; NOTIFY the secondaries of each zone whose serial changed."""
        self.trace.received("SIGHUP: reloading zone files", peer=None)  # a signal names no sender
        actions: list[Action] = []
        for path in self.zone_paths:
            try:
                zone = load_zone_file(path)
            except ZoneError as exc:
                self.trace.state(f"reload failed, keeping the old copy: {exc}")
                continue
            old = self.zones.get(zone.origin)
            self.install(zone)
            if old is None or old.serial != zone.serial:
                actions += self.outbox.zone_changed(zone, now)
        return actions

    def notify_timer(self, query_id: int, target: str, now: float) -> list[Action]:
        """A ``RetryAt`` came due (see ``notify.py``)."""
        return self.outbox.timer_fired(query_id, target, now)

    def take_actions(self) -> list[Action]:
        actions, self.actions = self.actions, []
        return actions

    # -- answering -------------------------------------------------------------

    def answer(self, data: bytes, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        """The responses to one received message: usually one, none for garbage, many for AXFR."""
        if len(data) < 12:
            return []  # not even a header: nothing to answer to
        if data[2] & 0x80:
            self.actions += self.outbox.response_received(data, peer[0])
            return []
        try:
            query = Message.from_wire(data)
        except FormatError as exc:
            if self.trace_queries:
                who, qid = self.peer_names(peer[0]), str(int.from_bytes(data[:2], "big"))
                self.trace.received(f"malformed message from {peer[0]}:{peer[1]}: {exc}", [hexdump(data)],
                                    peer=who, cid=qid)
                self.trace.sent("answer FORMERR (header only)", peer=who, cid=qid)
            return [formerr(data)]
        if self.trace_queries:
            self.trace_query(query, peer, data)
        if query.header.opcode == Opcode.NOTIFY:
            responses = [self._notify_received(query, peer).to_wire()]
        elif query.header.opcode == Opcode.UPDATE:
            responses = [self._update(query, peer, data)]
        elif query.questions and query.questions[0].qtype in ZONE_TRANSFER_TYPES:
            responses = self._transfer(query, peer, tcp)
        else:
            response = respond(query, self.zones)
            udp_limit = query.edns.udp_limit if query.edns else MIN_PAYLOAD
            responses = [response.to_wire(TCP_LIMIT if tcp else udp_limit)]
        if self.trace_queries:
            for wire in responses:
                self.trace_answer(Message.from_wire(wire), cached=False, peer=peer)
        return responses

    def _transfer(self, query: Message, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        zone = self.zones.get(query.questions[0].name)
        if not tcp:  # zone transfers need TCP (RFC 5936 §4.2)
            return [make_response(query, Rcode.NOTIMP).to_wire()]
        if zone is None:  # not a zone apex we serve (RFC 5936 §2.2.1)
            return [make_response(query, Rcode.NOTAUTH).to_wire()]
        self.trace.sent(f"AXFR {zone.origin} serial {zone.serial} to {peer[0]}:{peer[1]} "
                        f"({len(zone)} records)", peer=self.peer_names(peer[0]), cid=str(query.header.id))
        return [message.to_wire() for message in transfer(query, zone)]

    def _notify_received(self, query: Message, peer: tuple[str, int]) -> Message:
        """NOTIFY, secondary side (RFC 1996 §3.7-3.10): acknowledge, then check the serial."""
        origin = query.questions[0].name if query.questions else None
        primary = self.primaries.get(origin) if origin is not None else None
        who, qid = self.peer_names(peer[0]), str(query.header.id)
        if origin is None or peer[0] != primary:
            self.trace.received(f"NOTIFY {origin} from {peer[0]}: not our primary for it, refused",
                                peer=who, cid=qid)
            return make_response(query, Rcode.REFUSED)
        self.trace.received(f"NOTIFY {origin} from {peer[0]}: checking the serial now", peer=who, cid=qid)
        self.actions.append(RefreshZone(origin))
        return make_response(query, aa=True)

    def _update(self, query: Message, peer: tuple[str, int], data: bytes) -> bytes:
        """Dynamic UPDATE (RFC 2136 §3): who may (a TSIG key, or the source address), then all or
        nothing (``update.py``).  A signed request gets a signed answer (``tsig.py``)."""
        signed = None
        try:
            if query.additional and query.additional[-1].rtype == tsig.TSIG_TYPE:
                offset = tsig.find_tsig(data)
                if offset is None:
                    raise UpdateRefused(Rcode.FORMERR, "a TSIG record must be the last one")
                try:
                    signed = tsig.verify(data, offset, self.tsig_keys, int(self.wall_clock()))
                except FormatError as exc:
                    raise UpdateRefused(Rcode.FORMERR, f"malformed TSIG: {exc}") from None
                if signed.error:
                    raise UpdateRefused(Rcode.NOTAUTH, f"TSIG {tsig.ERROR_NAMES[signed.error]} "
                                                       f"(key {signed.key_name})")
            by_address = any(ipaddress.ip_address(peer[0]) in net for net in self.update_from)
            if signed is None and not by_address:
                raise UpdateRefused(Rcode.REFUSED, f"updates from {peer[0]} need a TSIG key "
                                                   f"or an --allow-update network")
            request = parse(query)
            zone = self.zones.get(request.zone)
            if zone is None or request.zone in self.primaries:  # no zone, or only a copy of it (§3.1.2)
                raise UpdateRefused(Rcode.NOTAUTH, f"not the primary for {request.zone}")
            who = f"key {signed.key_name}" if signed else "address"
            self.trace.state(f"update {request.zone} from {peer[0]} (allowed by {who})", describe(request))
            new = process(zone, request, source=f"UPDATE from {peer[0]}")
            rcode = Rcode.NOERROR
        except UpdateRefused as refused:
            self.trace.state(f"update refused, {_enum_name(Rcode, refused.rcode)}: {refused.reason}")
            new, rcode = None, refused.rcode
        else:
            if new is None:
                self.trace.state(f"update {request.zone}: nothing to change, serial stays {zone.serial}")
            else:
                self.install(new)
                self.actions += self.outbox.zone_changed(new, self.clock())
        wire = make_response(query, rcode).to_wire()
        return wire if signed is None else tsig.sign_response(wire, signed, int(self.wall_clock()))

    # -- the wire trace ----------------------------------------------------------

    def trace_query(self, query: Message, peer: tuple[str, int], data: bytes = b"") -> None:
        """One ``<`` line per query; with ``-v`` (and in the events) its first bytes as received."""
        q = query.questions[0] if query.questions else None
        what = f"{q.name} {type_name(q.qtype)}" if q else "(no question)"
        kind = _enum_name(Opcode, query.header.opcode).lower()
        edns = f" edns={query.edns.payload}" if query.edns else ""
        self.trace.received(f"{kind} {what} from {peer[0]}:{peer[1]} id={query.header.id}{edns}",
                            [hexdump(data, 64)] if data else [], peer=self.peer_names(peer[0]),
                            cid=str(query.header.id))

    def trace_answer(self, response: Message, cached: bool, peer: tuple[str, int] | None = None) -> None:
        h = response.header
        flags = " ".join(name for name, on in (("aa", h.aa), ("tc", h.tc), ("rd", h.rd)) if on)
        rcode = _enum_name(Rcode, response.rcode)
        referral = not h.aa and not response.answers and any(rr.rtype == 2 for rr in response.authority)
        summary = (f"{'referral' if referral else 'answer'} {rcode}{' ' + flags if flags else ''} "
                   f"an={len(response.answers)} ns={len(response.authority)} "
                   f"ar={len(response.additional)}{' (from cache)' if cached else ''}")
        detail = [f"{section}: {rr}" for section, rrs in
                  (("answer", response.answers), ("authority", response.authority),
                   ("additional", response.additional)) for rr in rrs]
        self.trace.sent(summary, detail, peer=self.peer_names(peer[0]) if peer else None, cid=str(h.id))
