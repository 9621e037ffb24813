"""The recursive resolver a client talks to: UDP and TCP on one address, a cache in front.

Reading order: the last resolver module, after ``upstream.py``.

    python -m learn_dns.recursive.server --host 127.53.0.53 --port P --root-hints 127.53.0.1 -v

(``--loop asyncio``: asyncio's own loop instead of uvloop; ``-q``: nothing but the ready
line, ``= resolver listening on udp://HOST:P``; ``-h`` lists the rest: ``--allow``, ``--rrl``,
``--rrl-slip``, ``--fast``, ``--timeout``, ``--stale-ttl``, ``--max-stale``, ``--max-ttl``,
``--peer-name``.)

What happens to a client's query, in order:

0. A datagram shorter than a header, or a response (QR=1), is dropped.
1. **Response rate limiting** (UDP only, off unless ``--rrl`` is given): over
   the limit an answer is dropped, or every ``--rrl-slip``-th time replaced by
   an empty TC=1 answer so that a real client retries over TCP
   (:class:`policy.ResponseRateLimit`).  TCP is never limited.
2. **Access control** (RFC 5358): a client outside ``--allow`` gets REFUSED.
3. **Hot path**: the question's bytes are the key of :class:`cache.AnswerCache`;
   a hit is the cached response with the client's id, RD and QNAME spelling
   patched in and the TTLs counted down.  No parsing, no message building: this
   is what makes a caching resolver fast, and why it is written with ``struct``
   rather than objects.  (Beside it, not instead: with ``--fast on``, the
   default, ``fast.py`` keeps a copy of each UDP hit it can give again
   unchanged, and ``udp_batch.py``'s socket sends those copies to later queries
   for the same question, in any letter case, before this path is asked.)
4. **Slow path**: parse with dnspython (FORMERR if it does not parse, without
   the question if the question itself is not valid), NOTIMP for an opcode
   other than QUERY, BADVERS for an EDNS version other than 0 (RFC 6891
   §6.1.3), then resolve with :class:`Recursor` (identical questions in flight
   share one resolution), build the response, store its bytes.
   A query with RD=0 (``dig +norec``) is answered from the cache only, or with a
   referral from it (:meth:`ResolverService.cache_only`): it never goes upstream.
   A zone transfer (AXFR, IXFR) is REFUSED: that is the authoritative servers' job.
5. **Size**: over UDP a response larger than the client's buffer (512 bytes
   without EDNS, RFC 1035 §4.2.1; the EDNS size up to 1232 otherwise) is replaced by
   an empty one with TC=1, and the client retries over TCP.

A reply to a query that carried an OPT record carries one too (RFC 6891 §7),
errors and TC=1 replies included; only a FORMERR for a message too broken to
find its OPT in goes without.

The resolver's messages are handled with dnspython, not with this pattern's own
codec: the resolver is the *policy* lesson (iteration, caching, bailiwick, stale
data), and a second, independent implementation of the wire format makes the
two halves of the pattern test each other.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset

from wirelab_common.event_loop import run_server
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

from .. import udp_batch
from ..peers import PeerNames, add_peer_names
from ..udp_drain import UdpDrain, loop_name
from .cache import AnswerCache, Cache, question_key
from .fast import FoldedAnswers
from .policy import AllowList, ResponseRateLimit, Verdict
from .replies import client_limit, error_response, refuse, truncated
from .resolver import Finished, Resolution
from .upstream import EDNS_PAYLOAD, Recursor

DEFAULT_PORT = 5300      # the run-wide port of the loopback internet (hierarchy.py)
RESOLVE_DEADLINE = 4.0  # seconds for one client question, all upstream queries included
ZONE_TRANSFERS = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)


class ResolverService:
    """The resolver minus its sockets: bytes of a query in, bytes of a response out."""

    def __init__(self, recursor: Recursor, answers: AnswerCache, allow: AllowList, rrl: ResponseRateLimit,
                 trace: Trace, clock=time.monotonic, log_queries: bool = True) -> None:
        self.recursor = recursor
        self.answers = answers
        self.allow = allow
        self.rrl = rrl
        self.trace = trace
        self.clock = clock
        self.log_queries = log_queries
        self.peer_names = PeerNames()  # client address -> its actor name, for the events (peers.py)
        self._inflight: dict[tuple[dns.name.Name, int], asyncio.Future[Finished]] = {}
        self.folded: FoldedAnswers | None = None  # fast.py, filled from the hits below (--fast on)
        self.hits = self.misses = self.slipped = self.dropped = 0  # counters, in the stopped line

    def fast_answer(self, query: bytes, client: str, udp: bool) -> tuple[bytes | None, int]:
        """Access control, rate limit, and the wire cache: (answer or None for "take the slow
        path", the client's UDP size limit, 0 for TCP).  ``b""`` means "drop it"."""
        if len(query) < 12 or query[2] & 0x80:
            # Not even a header, or a response (QR=1): never answered, or two servers
            # could bounce messages between them forever (and a forged source makes
            # us a reflector).
            return b"", 0
        if udp and self.rrl.on:  # TCP is never limited: its handshake proves the address
            verdict = self.rrl.verdict(client, self.clock())
            if verdict is Verdict.SLIP:
                self.slipped += 1
                if self.log_queries:
                    self.trace.state(f"client {client} over the response rate limit: slip, TC=1 "
                                     "(retry over TCP)")
                return truncated(query), 0
            if verdict is Verdict.DROP:
                self.dropped += 1
                if self.log_queries:
                    self.trace.state(f"client {client} over the response rate limit: dropped")
                return b"", 0
        if not self.allow.allows(client):
            if self.log_queries:
                self.trace.state(f"client {client} not in --allow: REFUSED (RFC 5358)")
            return refuse(query, dns.rcode.REFUSED), 0
        key = question_key(query)
        if key is None:
            return None, 512 if udp else 0
        limit = client_limit(query, key[1]) if udp else 0
        cached = self.answers.get(key[0], query, key[1] - 4)
        if cached is None:
            return None, limit
        self.hits += 1
        if self.log_queries:
            self.trace.state(f"cache hit for {client}: {len(cached)} bytes, no upstream query")
        if limit and len(cached) > limit:
            return truncated(query), limit
        if self.folded is not None and udp and not self.log_queries and not self.rrl.on:
            self.folded.put(query, key[1] - 4, cached, self.answers.rendered_until, key[0], limit)
        return cached, limit

    async def slow_answer(self, query_wire: bytes, client: str, limit: int) -> bytes:
        try:
            query = dns.message.from_wire(query_wire)
        except Exception:  # noqa: BLE001 - any parse failure is the client's FORMERR
            return refuse(query_wire, dns.rcode.FORMERR)
        if query.opcode() != dns.opcode.QUERY:
            return error_response(query, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            return error_response(query, dns.rcode.FORMERR)
        if query.edns > 0:  # RFC 6891 §6.1.3: we speak EDNS version 0 only, and say so
            if self.log_queries:
                self.trace.state(f"client {client} sent EDNS version {query.edns}: BADVERS")
            return error_response(query, dns.rcode.BADVERS)
        question = query.question[0]
        if question.rdtype in ZONE_TRANSFERS:  # a zone is transferred from its servers, not a cache
            if self.log_queries:
                self.trace.state(f"client {client} asked for a zone transfer of {question.name}: REFUSED")
            return error_response(query, dns.rcode.REFUSED)
        recurse = bool(query.flags & dns.flags.RD)
        if self.log_queries:
            norec = "" if recurse else " (RD=0: cache only)"
            self.trace.received(f"client {client} {question.name} {dns.rdatatype.to_text(question.rdtype)}"
                                f"{norec}", peer=self.peer_names(client), cid=str(query.id))
        self.misses += 1
        additional: list[dns.rrset.RRset] = []
        if recurse:
            finished = await self._resolve_shared(question.name, question.rdtype)
        else:
            finished, additional = self.cache_only(question.name, question.rdtype)
        response = dns.message.make_response(query, recursion_available=True, our_payload=EDNS_PAYLOAD)
        response.set_rcode(finished.rcode)
        response.answer = finished.answer
        authority = []
        for rrset in finished.authority:
            if rrset.rdtype == dns.rdatatype.SOA:  # RFC 2308 §5: the SOA's TTL is the negative TTL
                rrset = rrset.copy()
                rrset.ttl = min(rrset.ttl, rrset[0].minimum)
            authority.append(rrset)
        response.authority = authority
        response.additional = additional
        # make_response() limits the size to the client's buffer; we want the whole
        # answer (for the cache and for TCP) and truncate below ourselves.
        wire = response.to_wire(max_size=65535)
        key = question_key(query_wire)
        if (key and recurse and not finished.stale
                and finished.rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)):
            self.answers.put(key[0], wire)
        if self.log_queries:
            how = ("stale cache" if finished.stale else "the cache only" if not recurse
                   else "cache" if finished.from_cache else "iteration")
            self.trace.sent(f"client {client} {dns.rcode.to_text(finished.rcode)} {len(finished.answer)} "
                            f"RRset(s) from {how}", peer=self.peer_names(client), cid=str(query.id))
        if limit and len(wire) > limit:
            return truncated(query_wire)
        return wire

    def cache_only(self, qname: dns.name.Name, qtype: int) -> tuple[Finished, list[dns.rrset.RRset]]:
        """RD=0 (``dig +norec``): the client asked us not to recurse (RFC 1034 §4.3.1).

        Answer from the cache if it can; else refer the client to the closest zone
        cut the cache knows (NS in authority, cached addresses as additional);
        else REFUSED.  Never a query upstream: this is how an operator peeks into
        a resolver's cache, and how a cache-snooping attacker does too.
        """
        cache = self.recursor.cache
        step = Resolution(qname, qtype, cache, self.recursor.root_hints).next_step()
        if isinstance(step, Finished) and step.from_cache:
            return step, []
        ns = cache.closest_delegation(qname)
        if ns is None:
            return Finished(dns.rcode.REFUSED, reason="RD=0 and nothing cached"), []
        glue = [found for rdata in ns if (found := cache.rrset(rdata.target, dns.rdatatype.A)) is not None]
        return Finished(dns.rcode.NOERROR, authority=[ns], from_cache=True), glue

    async def _resolve_shared(self, qname: dns.name.Name, qtype: int) -> Finished:
        key = (qname, qtype)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Finished] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        result = Finished(dns.rcode.SERVFAIL, reason="internal error")
        try:
            result = await asyncio.wait_for(self.recursor.resolve(qname, qtype), RESOLVE_DEADLINE)
        except TimeoutError:
            result = Finished(dns.rcode.SERVFAIL, reason="deadline")
        finally:
            del self._inflight[key]
            future.set_result(result)  # whatever happened, nobody waiting on it hangs
        return result


class UDPServer:
    """The UDP side: ``udp_drain.UdpDrain`` reads the socket, a burst per wakeup.

    A cache hit is answered right there with ``sendto`` (no task, no await);
    a miss becomes a task, which sends its answer when the resolution ends.
    Reading the socket directly rather than through asyncio's datagram
    transport (one datagram per trip round the event loop) made it several
    times faster on asyncio's loop: see ``udp_drain.py`` and the README's benchmark.
    """

    def __init__(self, service: ResolverService, address: str, port: int) -> None:
        self.service = service
        self.tasks: set[asyncio.Task[None]] = set()  # held so that pending answers are not collected
        self.loop = asyncio.get_running_loop()
        if service.folded is not None and udp_batch.available():  # --fast on: fast.py answers first
            self.drain: UdpDrain = udp_batch.BatchDrain(address, port, self.datagram_received,
                                                        self.packet_failed, service.folded.answer,
                                                        with_source=True)
        else:
            self.drain = UdpDrain(address, port, self.datagram_received, self.packet_failed)
        self.port = self.drain.port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer, limit = self.service.fast_answer(data, addr[0], udp=True)
        if answer is None:
            task = self.loop.create_task(self._slow(data, addr, limit))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif answer:
            self.drain.sendto(answer, addr)

    def packet_failed(self, data: bytes, addr: tuple[str, int], exc: Exception) -> None:
        self.service.trace.state(f"internal error {exc!r} on a packet from {addr[0]}: dropped")

    async def _slow(self, data: bytes, addr: tuple[str, int], limit: int) -> None:
        try:
            answer = await self.service.slow_answer(data, addr[0], limit)
        except Exception as exc:  # noqa: BLE001 - a bug must cost one SERVFAIL, not the server
            self.service.trace.state(f"internal error {exc!r}: SERVFAIL")
            answer = refuse(data, dns.rcode.SERVFAIL)
        if not self.drain.closed:
            self.drain.sendto(answer, addr)

    def close(self) -> None:
        self.drain.close()


async def _tcp_client(service: ResolverService, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    client = writer.get_extra_info("peername")[0]
    try:
        while True:  # RFC 7766 §6.2.1: several queries may share one connection
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
            answer, _limit = service.fast_answer(data, client, udp=False)
            if answer is None:
                answer = await service.slow_answer(data, client, 0)
            if not answer:
                break
            writer.write(struct.pack("!H", len(answer)) + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("resolver", verbose=args.verbose, quiet=args.quiet)
    cache = Cache(time.monotonic, max_ttl=args.max_ttl, max_stale=args.max_stale)
    recursor = Recursor(cache, args.root_hints, args.upstream_port or args.port,
                        local_address=args.host, trace=trace, timeout=args.timeout,
                        stale_ttl=args.stale_ttl)
    answers = AnswerCache(time.monotonic, max_ttl=args.max_ttl)
    service = ResolverService(recursor, answers, AllowList(args.allow),
                              ResponseRateLimit(args.rrl, args.rrl_burst, args.rrl_slip), trace,
                              log_queries=not args.quiet)
    service.peer_names.update(args.peer_name)
    if args.fast == "on" and udp_batch.available() and not service.rrl.on:  # fast.py: off with --rrl
        service.folded = FoldedAnswers(time.monotonic, service.allow, answers,
                                       lambda data, client: service.fast_answer(data, client, udp=True)[0])
    loop = asyncio.get_running_loop()
    udp = UDPServer(service, args.host, args.port)
    port = udp.port
    recursor.port = args.upstream_port or port  # --port 0: the port the kernel gave, run-wide
    tcp = await asyncio.start_server(lambda r, w: _tcp_client(service, r, w), args.host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rrl = f"rrl {args.rrl:g}/s slip {args.rrl_slip}" if service.rrl.on else "rrl off"
    trace.state(f"udp+tcp, root hints {', '.join(args.root_hints)}, allow {', '.join(args.allow)}, {rrl}, "
                f"loop={loop_name()}")
    announce(trace, f"udp://{args.host}:{port}")
    await stop.wait()
    udp.close()
    tcp.close()
    folded = service.folded.hits if service.folded is not None else 0
    trace.state(f"stopped: {service.hits} wire-cache hits, {folded} fast-path hits, "
                f"{service.misses} slow-path answers, {recursor.upstream_queries} upstream queries, "
                f"rrl: {service.slipped} slipped, "
                f"{service.dropped} dropped")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_options(parser, port=DEFAULT_PORT)
    parser.add_argument("--root-hints", default="127.53.0.1", help="comma-separated root server addresses",
                        type=lambda text: [a.strip() for a in text.split(",") if a.strip()])
    parser.add_argument("--upstream-port", type=int, default=0,
                        help="port of every authoritative server (default: --port; one port per run)")
    parser.add_argument("--allow", action="append", default=None,
                        help="client network allowed to recurse (repeatable; default 127.0.0.0/8)")
    parser.add_argument("--rrl", type=float, default=0, metavar="RATE",
                        help="response rate limiting: UDP answers/s per client address (default 0: off)")
    parser.add_argument("--rrl-burst", type=float, default=None, help="answers a client may get at once "
                        "before the limit applies (default: RATE)")
    parser.add_argument("--rrl-slip", type=int, default=2, metavar="N",
                        help="over the limit, every Nth answer goes out truncated (TC=1), the rest "
                             "are dropped; 1: all truncated, 0: all dropped (default 2, as BIND)")
    parser.add_argument("--fast", choices=["on", "off"], default="on",
                        help="on (default): hot cache hits seen before, in any letter case, are sent "
                             "again by recursive/fast.py through udp_batch.py's socket; off: the lesson's "
                             "path only")
    parser.add_argument("--timeout", type=float, default=0.8, help="seconds to wait for one upstream answer")
    add_peer_names(parser)
    parser.add_argument("--stale-ttl", type=int, default=30, help="TTL of a stale answer (RFC 8767: 30)")
    parser.add_argument("--max-stale", type=float, default=86400,
                        help="seconds past expiry that data may still be served stale (0: never)")
    parser.add_argument("--max-ttl", type=int, default=86400, help="cache nothing longer than this, "
                        "whatever its TTL (default 86400; at least 1: iteration keeps referrals there)")
    args = parser.parse_args(argv)
    args.allow = args.allow or ["127.0.0.0/8"]
    return args


def main() -> None:
    args = parse_args()
    run_server(lambda: serve(args), args.loop)  # uvloop when installed; --loop asyncio to compare


if __name__ == "__main__":
    main()
