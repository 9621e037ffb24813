"""The name server's core: zones, answer cache, NOTIFY and reload, shared by UDP and TCP.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> wire_cache -> **nameserver** -> authoritative -> secondary

:meth:`AuthoritativeServer.answer` takes the bytes of one received message
and returns the bytes to send back, whatever the transport:

1. a plain question (``wire_cache.parse_question``) is looked up in the
   cache of response bytes; on a miss the codec decodes the query,
   ``answers.respond`` builds the response, the codec encodes it in full
   and truncated form, and both are cached;
2. anything else takes the slow path: malformed (FORMERR if the header is
   readable), a response (a NOTIFY acknowledgement, else dropped), NOTIFY,
   zone transfer (TCP only), or a query of an unusual shape.

The transports in ``authoritative.py`` add only framing and the UDP size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any, Protocol

from wirelab_common.wiretrace import Trace, hexdump

from .answers import make_response, respond, transfer
from .edns import MIN_PAYLOAD
from .message import TCP_LIMIT, Message, Opcode, Rcode
from .names import Name
from .rdata import type_name
from .secondary import SecondaryZone, notify_message
from .wire import U16, FormatError
from .wire_cache import WireCache, parse_question, patch
from .zone_data import Zone, ZoneError, load_zone_file

NOTIFY_ATTEMPTS = 3             # RFC 1996 §3.6: retry until acknowledged, a few times
NOTIFY_INTERVAL = 1.0
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


class DatagramSender(Protocol):
    """Anything that can send one datagram (``udp_drain.UdpDrain``, an asyncio transport)."""

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None: ...

class AuthoritativeServer:
    """The zones, the answer cache, and what every transport calls: :meth:`answer`."""

    def __init__(self, address: str, port: int, zone_paths: list[str], notify: list[str],
                 trace: Trace, trace_queries: bool, next_id: Callable[[], int],
                 cache_mode: str = "exact") -> None:
        self.address = address
        self.port = port
        self.zone_paths = zone_paths
        self.notify_targets = notify
        self.trace = trace
        self.trace_queries = trace_queries
        self.next_id = next_id
        self.cache_mode = cache_mode  # "exact": both cache levels; "question": level 2 only; "off"
        self.zones: dict[Name, Zone] = {}
        self.cache = WireCache()
        self.secondaries: dict[Name, SecondaryZone] = {}
        self.udp: DatagramSender | None = None   # the UDP socket's driver: NOTIFY leaves through it
        self._notify_acks: dict[int, tuple[str, asyncio.Future[None]]] = {}  # id -> (target, ack)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- zone data ------------------------------------------------------------

    def load_files(self) -> None:
        for path in self.zone_paths:
            self.install(load_zone_file(path))

    def install(self, zone: Zone) -> None:
        old = self.zones.get(zone.origin)
        self.zones[zone.origin] = zone
        self.cache.clear()  # cached answers were computed from the old data
        serial = f"serial {old.serial} -> {zone.serial}" if old else f"serial {zone.serial}"
        self.trace.state(f"zone {zone.origin} {serial} "
                         f"({len(zone)} records, {zone.source})")

    def reload(self) -> None:
        """SIGHUP: re-read the zone files; NOTIFY the secondaries of each zone whose serial changed."""
        self.trace.received("SIGHUP: reloading zone files")
        for path in self.zone_paths:
            try:
                zone = load_zone_file(path)
            except ZoneError as exc:
                self.trace.state(f"reload failed, keeping the old copy: {exc}")
                continue
            old = self.zones.get(zone.origin)
            self.install(zone)
            if old is None or old.serial != zone.serial:
                self._spawn(self.send_notifies(zone))

    def add_secondary(self, origin: Name, primary: str) -> SecondaryZone:
        job = SecondaryZone(origin, primary, self.port, self.address, self.install, self.trace, self.next_id)
        self.secondaries[origin] = job
        self._spawn(job.run())
        return job

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, keeping a reference so it is not garbage-collected."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- NOTIFY, primary side (RFC 1996 §3.6-3.7) --------------------------------

    async def send_notifies(self, zone: Zone) -> None:
        await asyncio.gather(*(self._notify(zone, target) for target in self.notify_targets))

    async def _notify(self, zone: Zone, target: str) -> None:
        assert self.udp is not None
        for attempt in range(1, NOTIFY_ATTEMPTS + 1):
            query_id = self.next_id()
            ack = asyncio.get_running_loop().create_future()
            self._notify_acks[query_id] = (target, ack)
            self.trace.sent(f"NOTIFY {zone.origin} serial {zone.serial} to {target}:{self.port} "
                            f"(try {attempt})")
            self.udp.sendto(notify_message(zone, query_id).to_wire(), (target, self.port))
            try:
                await asyncio.wait_for(ack, NOTIFY_INTERVAL)
                self.trace.received(f"NOTIFY acknowledged by {target}")
                return
            except TimeoutError:
                continue
            finally:
                self._notify_acks.pop(query_id, None)
        self.trace.state(f"NOTIFY {zone.origin} to {target}: no acknowledgement, giving up")

    # -- answering -------------------------------------------------------------

    def answer(self, data: bytes, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        """The responses to one received message: usually one, none for garbage, many for AXFR."""
        found = parse_question(data)
        if found is not None:  # a plain query: try the cache of response bytes
            key, name_end, udp_limit = found
            entry = cached = self.cache.get(key) if self.cache_mode != "off" else None
            if entry is None:
                try:
                    entry = self._compute(data)
                except FormatError:  # e.g. a QNAME over 255 bytes: the shape check does not count
                    return self._answer_unusual(data, peer, tcp)
                if self.cache_mode != "off":
                    self.cache.put(key, *entry)
            full, short = entry
            wire = patch(full if tcp or len(full) <= udp_limit else short, data, name_end)
            if self.trace_queries:
                self._trace_exchange(data, wire, peer, cached is not None)
            elif not tcp and self.cache_mode == "exact":
                self.cache.put_exact(data, wire)  # the UDP answer for exactly these bytes
            return [wire]
        return self._answer_unusual(data, peer, tcp)

    def _compute(self, data: bytes) -> tuple[bytes, bytes]:
        """Cache miss: decode, look up, encode (ID 0, RD/CD clear: ``patch`` fills them per query)."""
        query = Message.from_wire(data)
        response = respond(query, self.zones)
        response.header.id = 0
        response.header.rd = response.header.cd = False
        return response.to_wire(), response.truncated()

    def _answer_unusual(self, data: bytes, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        """The slow path: anything :func:`parse_question` would not vouch for."""
        if len(data) < 12:
            return []  # not even a header: nothing to answer to
        if data[2] & 0x80:
            self._response_received(data, peer)
            return []
        try:
            query = Message.from_wire(data)
        except FormatError as exc:
            if self.trace_queries:
                self.trace.received(f"malformed message from {peer[0]}:{peer[1]}: {exc}", [hexdump(data)])
                self.trace.sent("answer FORMERR (header only)")
            return [formerr(data)]
        if self.trace_queries:
            self._trace_query(query, peer)
        if query.header.opcode == Opcode.NOTIFY:
            responses = [self._notify_received(query, peer).to_wire()]
        elif query.questions and query.questions[0].qtype in ZONE_TRANSFER_TYPES:
            responses = self._transfer(query, peer, tcp)
        else:
            response = respond(query, self.zones)
            udp_limit = query.edns.udp_limit if query.edns else MIN_PAYLOAD
            responses = [response.to_wire(TCP_LIMIT if tcp else udp_limit)]
        if self.trace_queries:
            for wire in responses:
                self._trace_answer(Message.from_wire(wire), cached=False)
        return responses

    def _transfer(self, query: Message, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        zone = self.zones.get(query.questions[0].name)
        if not tcp:  # zone transfers need TCP (RFC 5936 §4.2)
            return [make_response(query, Rcode.NOTIMP).to_wire()]
        if zone is None:  # not a zone apex we serve (RFC 5936 §2.2.1)
            return [make_response(query, Rcode.NOTAUTH).to_wire()]
        self.trace.sent(f"AXFR {zone.origin} serial {zone.serial} to {peer[0]}:{peer[1]} "
                        f"({len(zone)} records)")
        return [message.to_wire() for message in transfer(query, zone)]

    def _notify_received(self, query: Message, peer: tuple[str, int]) -> Message:
        """NOTIFY, secondary side (RFC 1996 §3.7-3.10): acknowledge, then check the serial."""
        origin = query.questions[0].name if query.questions else None
        job = self.secondaries.get(origin) if origin is not None else None
        if job is None or peer[0] != job.primary:
            self.trace.received(f"NOTIFY {origin} from {peer[0]}: not our primary for it, refused")
            return make_response(query, Rcode.REFUSED)
        self.trace.received(f"NOTIFY {origin} from {peer[0]}: checking the serial now")
        job.notified()
        return make_response(query, aa=True)

    def _response_received(self, data: bytes, peer: tuple[str, int]) -> None:
        """A response arriving at the server port: only NOTIFY acknowledgements are expected."""
        target, ack = self._notify_acks.get(U16.unpack_from(data)[0], ("", None))
        if ack is not None and not ack.done() and peer[0] == target and (data[2] >> 3) & 0xF == Opcode.NOTIFY:
            ack.set_result(None)

    # -- the wire trace ----------------------------------------------------------

    def _trace_exchange(self, query: bytes, response: bytes, peer: tuple[str, int], cached: bool) -> None:
        self._trace_query(Message.from_wire(query), peer)
        self._trace_answer(Message.from_wire(response), cached)

    def _trace_query(self, query: Message, peer: tuple[str, int]) -> None:
        q = query.questions[0] if query.questions else None
        what = f"{q.name} {type_name(q.qtype)}" if q else "(no question)"
        kind = _enum_name(Opcode, query.header.opcode).lower()
        edns = f" edns={query.edns.payload}" if query.edns else ""
        self.trace.received(f"{kind} {what} from {peer[0]}:{peer[1]} id={query.header.id}{edns}")

    def _trace_answer(self, response: Message, cached: bool) -> None:
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
        self.trace.sent(summary, detail)
