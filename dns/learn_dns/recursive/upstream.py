"""The resolver's side of the wire: queries to authoritative servers, and the loop that drives
:class:`resolver.Resolution`.

Reading order: after ``resolver.py`` (the decisions) and before ``server.py``
(the clients' side).  ``trace_dig.py`` uses :class:`Recursor` too, with an empty cache.

Each upstream query is hardened the way RFC 5452 ("Measures for Making DNS More
Resilient against Forged Answers") asks:

- a **random 16-bit id** per query (§9.2) from ``rng``, a parameter;
- a **fresh UDP socket per query**, so a fresh **source port** chosen by the
  kernel (Linux picks ephemeral UDP ports at random) (§9.2);
- the response must come from the address and port we asked (the socket is
  *connected*, so the kernel drops anything else), carry our id, and repeat our
  question (§9.1); anything else is counted and ignored, and we keep waiting.

Queries carry EDNS0 (RFC 6891) advertising a 1232-byte UDP buffer, the size
the 2020 "DNS flag day" settled on to avoid IP fragmentation.  A response with
TC (truncated, RFC 1035 §4.2.1) is asked again over TCP (RFC 7766 §5).
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from wirelab_common.wiretrace import Trace

from .cache import Cache
from .resolver import Finished, Resolution, ResolveAddress, SendQuery, stale_answer

EDNS_PAYLOAD = 1232
MAX_GLUELESS_DEPTH = 4


class BadResponse(Exception):
    """The server answered something we cannot use (not parseable, wrong question, ...)."""


def is_answer_to(query: dns.message.Message, wire: bytes) -> dns.message.Message | None:
    """The parsed response if ``wire`` answers ``query`` (same id and question), else None."""
    if len(wire) < 12 or struct.unpack_from("!H", wire)[0] != query.id:
        return None
    try:
        response = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 - any malformed packet is just "not our answer"
        return None
    if not response.flags & dns.flags.QR or response.question != query.question:
        return None
    return response


class _UDPExchange(asyncio.DatagramProtocol):
    def __init__(self, query: dns.message.Message) -> None:
        self.query = query
        self.done: asyncio.Future[dns.message.Message] = asyncio.get_running_loop().create_future()
        self.ignored = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response = is_answer_to(self.query, data)
        if response is None:
            self.ignored += 1  # a forgery or a late answer to an old query: keep waiting
        elif not self.done.done():
            self.done.set_result(response)

    def error_received(self, exc: Exception) -> None:
        # On loopback a closed port comes back at once as ICMP "port unreachable".
        if not self.done.done():
            self.done.set_exception(exc)


async def query_udp(query: dns.message.Message, server: str, port: int, timeout: float, local_address: str,
                    sending: Callable[[int], None] = lambda source_port: None,
                    ) -> tuple[dns.message.Message, int, int]:
    """Send ``query`` over a fresh UDP socket; return (response, our source port, ignored packets).

    ``sending(source_port)`` runs just before the datagram leaves (the trace's ``>`` line,
    so that it comes before the server's own lines about the query)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _UDPExchange(query), local_addr=(local_address, 0), remote_addr=(server, port))
    try:
        source_port = transport.get_extra_info("sockname")[1]
        sending(source_port)
        transport.sendto(query.to_wire())
        response = await asyncio.wait_for(protocol.done, timeout)
        return response, source_port, protocol.ignored
    finally:
        transport.close()


async def query_tcp(query: dns.message.Message, server: str, port: int, timeout: float,
                    local_address: str) -> dns.message.Message:
    """Send ``query`` over TCP with the 2-byte length prefix of RFC 1035 §4.2.2."""
    async def exchange() -> dns.message.Message:
        reader, writer = await asyncio.open_connection(server, port, local_addr=(local_address, 0))
        try:
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            response = is_answer_to(query, await reader.readexactly(length))
            if response is None:
                raise BadResponse("TCP answer does not match the question")
            return response
        finally:
            writer.close()
    return await asyncio.wait_for(exchange(), timeout)


class Recursor:
    """Runs :class:`Resolution` against real servers: the asyncio driver of the pure logic."""

    def __init__(self, cache: Cache, root_hints: list[str], port: int, *, local_address: str = "127.0.0.1",
                 rng: random.Random | None = None, trace: Trace | None = None, timeout: float = 0.8,
                 stale_ttl: int = 30) -> None:
        self.cache = cache
        self.root_hints = root_hints
        self.port = port
        self.local_address = local_address
        self.rng = rng or random.SystemRandom()
        self.trace = trace or Trace("resolver")
        self.timeout = timeout
        self.stale_ttl = stale_ttl
        self.upstream_queries = 0

    async def resolve(self, qname: dns.name.Name, qtype: int, depth: int = 0) -> Finished:
        """Resolve iteratively; on total failure fall back to stale data (RFC 8767)."""
        resolution = Resolution(qname, qtype, self.cache, self.root_hints)
        while True:
            step = resolution.next_step()
            self._report(resolution)
            if isinstance(step, Finished):
                break
            if isinstance(step, SendQuery):
                await self._ask(resolution, step)
            elif depth >= MAX_GLUELESS_DEPTH:
                resolution.address_resolved(step.nsname, [])
            else:
                assert isinstance(step, ResolveAddress)
                self.trace.state(f"glueless NS {step.nsname}: resolving its address first")
                found = await self.resolve(step.nsname, dns.rdatatype.A, depth + 1)
                addresses = [r.address for rrset in found.answer if rrset.rdtype == dns.rdatatype.A
                             for r in rrset]
                self.trace.state(f"glueless NS {step.nsname} is at {', '.join(addresses) or 'nowhere'}")
                resolution.address_resolved(step.nsname, addresses)
        if step.rcode == dns.rcode.SERVFAIL and depth == 0:
            stale = stale_answer(self.cache, qname, qtype, self.stale_ttl)
            if stale is not None:
                self.trace.state(f"serve-stale: {step.reason}; answering from expired cache "
                                 f"with TTL {self.stale_ttl} (RFC 8767)")
                return stale
        return step

    def _report(self, resolution: Resolution) -> None:
        for event in resolution.events:
            self.trace.state(event)
        resolution.events.clear()

    async def _ask(self, resolution: Resolution, step: SendQuery) -> None:
        query = dns.message.make_query(step.qname, step.qtype, use_edns=0, payload=EDNS_PAYLOAD,
                                       flags=0, id=self.rng.randrange(65536))  # RD=0: iterative query
        qtext = f"{step.qname} {dns.rdatatype.to_text(step.qtype)}"
        self.upstream_queries += 1
        traced = []

        def sending(source_port: int) -> None:
            self.trace.sent(f"{step.server:<12} {qtext} (zone {step.zone}, id {query.id}, "
                            f"udp from port {source_port})", peer=step.server, cid=str(query.id))
            traced.append(source_port)

        try:
            response, _port, ignored = await query_udp(query, step.server, self.port, self.timeout,
                                                       self.local_address, sending)
            if ignored:
                self.trace.state(f"ignored {ignored} packet(s) that did not match id/question (RFC 5452)")
            transport = "udp"
            if response.flags & dns.flags.TC:
                self.trace.received(f"{step.server:<12} TC=1: truncated, asking again over TCP",
                                    peer=step.server, cid=str(query.id))
                response = await query_tcp(query, step.server, self.port, self.timeout, self.local_address)
                transport = "tcp"
        except (TimeoutError, OSError, BadResponse, EOFError, asyncio.IncompleteReadError) as exc:
            if not traced:  # it failed before the datagram left
                self.trace.sent(f"{step.server:<12} {qtext} (zone {step.zone}, id {query.id})",
                                peer=step.server, cid=str(query.id))
            why = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            self.trace.received(f"{step.server:<12} no answer ({why})", peer=step.server, cid=str(query.id))
            resolution.on_timeout(step, why)
            return
        self.trace.received(f"{step.server:<12} {summarize(response)} ({transport})",
                            response.to_text().splitlines(), peer=step.server, cid=str(query.id))
        resolution.on_response(step, response)


def summarize(response: dns.message.Message) -> str:
    """One line: rcode, AA, and what each section holds."""
    parts = [dns.rcode.to_text(response.rcode())]
    if response.flags & dns.flags.AA:
        parts.append("aa")
    for label, section in (("an", response.answer), ("ns", response.authority),
                           ("ar", response.additional)):
        if section:
            rrsets = ", ".join(f"{r.name} {dns.rdatatype.to_text(r.rdtype)}" for r in section[:3])
            more = f" +{len(section) - 3}" if len(section) > 3 else ""
            parts.append(f"{label}=[{rrsets}{more}]")
    return " ".join(parts)
