"""Zone copies kept fresh: SOA polling, NOTIFY and zone transfer (RFC 1034 §4.3.5, RFC 1996, RFC 5936).

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> notify -> nameserver -> authoritative -> **secondary** -> wire_cache

A zone is served by several servers so that one failure does not take the
name off the internet.  One of them, the *primary*, loads the zone file; the
*secondaries* copy it.  A secondary must notice when the zone changes:

- **polling** (RFC 1034 §4.3.5): every SOA REFRESH seconds it asks the
  primary for the zone's SOA over UDP; a larger SERIAL means a new version;
  on failure it tries again after RETRY seconds;
- **NOTIFY** (RFC 1996): the primary tells its secondaries "the zone
  changed" at once, so they need not wait for the next refresh; the message
  only wakes the secondary up: it still checks the serial itself;
- **AXFR** (RFC 5936): when the serial grew, the secondary asks for the whole
  zone over TCP and receives every record between two copies of the SOA.

Serial numbers wrap around at 2^32, so "larger" is RFC 1982 serial number
arithmetic, not plain ``>``.  The secondary sends from its own address (the
primary could check it; ours allows any loopback peer to transfer, a
simplification production servers never make: they use ACLs and TSIG keys).
Not modelled: EXPIRE (a secondary that cannot reach its primary for EXPIRE
seconds should stop answering for the zone) and incremental transfer (IXFR).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wirelab_common.wiretrace import Trace

from .message import Header, Message, Question, Rcode, ResourceRecord
from .names import Name
from .rdata import CLASS_IN, SOA
from .wire import U16, FormatError
from .zone_data import SOA_TYPE, Zone, ZoneError

AXFR_TYPE = 252
SOA_TIMEOUT = 1.0
AXFR_TIMEOUT = 5.0
FIRST_RETRY = 0.5       # before we have any copy, try again soon


def serial_newer(a: int, b: int) -> bool:
    """True if serial ``a`` is newer than ``b`` in RFC 1982 arithmetic (32-bit, wrapping)."""
    return a != b and (a - b) % 2**32 < 2**31


async def query_soa(origin: Name, primary: str, port: int, local: str, query_id: int) -> int:
    """Ask ``primary`` for the zone's SOA over UDP; return its serial."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not reply.done() and data[:2] == U16.pack(query_id):
                reply.set_result(data)

    query = Message(Header(id=query_id), [Question(origin, SOA_TYPE, CLASS_IN)])
    transport, _ = await loop.create_datagram_endpoint(
        Client, local_addr=(local, 0), remote_addr=(primary, port))
    try:
        transport.sendto(query.to_wire())
        response = Message.from_wire(await asyncio.wait_for(reply, SOA_TIMEOUT))
    finally:
        transport.close()
    soa = [rr.rdata for rr in response.answers if isinstance(rr.rdata, SOA)]
    if response.rcode != Rcode.NOERROR or not response.header.aa or not soa:
        raise ZoneError(f"{primary} gave no authoritative SOA for {origin} (rcode {response.rcode})")
    return soa[0].serial


async def axfr(origin: Name, primary: str, port: int, local: str, query_id: int) -> list[ResourceRecord]:
    """Transfer the whole zone over TCP (RFC 5936 §2.2): every record between the two SOAs."""
    query = Message(Header(id=query_id), [Question(origin, AXFR_TYPE, CLASS_IN)]).to_wire()
    reader, writer = await asyncio.open_connection(primary, port, local_addr=(local, 0))
    records: list[ResourceRecord] = []
    try:
        writer.write(U16.pack(len(query)) + query)
        while True:
            size = U16.unpack(await reader.readexactly(2))[0]
            message = Message.from_wire(await reader.readexactly(size))
            if message.rcode != Rcode.NOERROR:
                raise ZoneError(f"{primary} refused the transfer of {origin} (rcode {message.rcode})")
            for rr in message.answers:
                if not records and rr.rtype != SOA_TYPE:
                    raise ZoneError("a zone transfer must start with the SOA")
                if records and rr.rtype == SOA_TYPE and rr.name == origin:
                    return records  # the second SOA closes the transfer
                records.append(rr)
    finally:
        writer.close()


class SecondaryZone:
    """Keeps one zone copied from its primary; ``install`` puts each new copy into service."""

    def __init__(self, origin: Name, primary: str, port: int, local: str,
                 install: Callable[[Zone], None], trace: Trace, next_id: Callable[[], int]) -> None:
        self.origin = origin
        self.primary = primary
        self.port = port
        self.local = local
        self.install = install
        self.trace = trace
        self.next_id = next_id
        self.zone: Zone | None = None
        self.loaded = asyncio.Event()   # set after the first successful transfer
        self._wake = asyncio.Event()

    def notified(self) -> None:
        """The primary sent NOTIFY: check the serial now instead of at the next refresh."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # a NOTIFY that comes during the refresh wakes the next round
            try:
                await self.refresh()
                delay = self.zone.soa.refresh if self.zone else FIRST_RETRY
            except (OSError, TimeoutError, FormatError, ZoneError, asyncio.IncompleteReadError) as exc:
                reason = str(exc) or type(exc).__name__
                self.trace.state(f"refresh of {self.origin} from {self.primary} failed: {reason}")
                delay = self.zone.soa.retry if self.zone else FIRST_RETRY
            try:
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.1))
            except TimeoutError:
                pass

    async def refresh(self) -> bool:
        """Compare serials; transfer the zone if the primary's is newer.  True if a copy was installed."""
        serial = await query_soa(self.origin, self.primary, self.port, self.local, self.next_id())
        if self.zone is not None and not serial_newer(serial, self.zone.serial):
            return False
        have = self.zone.serial if self.zone else "none"
        qid = self.next_id()
        # The primary names itself by its address (authoritative.py without --name): so do we.
        self.trace.sent(f"AXFR {self.origin} from {self.primary}:{self.port} (serial {have} -> {serial})",
                        peer=self.primary, cid=str(qid))
        records = await asyncio.wait_for(
            axfr(self.origin, self.primary, self.port, self.local, qid), AXFR_TIMEOUT)
        zone = Zone(self.origin, records, source=f"AXFR from {self.primary}")
        self.trace.received(f"AXFR {self.origin} serial {zone.serial}: {len(zone)} records",
                            peer=self.primary, cid=str(qid))
        self.zone = zone
        self.install(zone)
        self.loaded.set()
        return True
