"""``make demo-dns``: a loopback DNS internet, one resolution traced, a cache, and propagation.

Reading order: last.  It starts :class:`hierarchy.Hierarchy` (root, com/net,
example.com primary + secondary, a new provider, our resolver) on one free port,
then plays eight acts, each checked:

1. the topology;
2. one resolution from the root, step by step (``dig +trace``);
3. the resolver: a first query iterates, a second is answered from the cache;
4. response rate limiting: a burst over UDP, some answers slip (TC=1) and are
   fetched over TCP, the rest are dropped;
5. (a) a record changes: the secondary follows at once, the resolver after the TTL;
6. (c) DNS-PERSIST-01: a CA validates a standing TXT record through the resolver;
7. (b) the NS move: the parent's NS TTL decides when the new provider is used;
8. serve-stale: every example.com server is down, the resolver still answers.

    python -m learn_dns.demo [-v]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode

from wirelab_common.errors import check, run_main
from wirelab_common.wiretrace import Trace

from . import propagation
from .hierarchy import RESOLVER_ADDRESS, RRL_RESOLVER_ADDRESS, SERVERS, Hierarchy
from .propagation import OLD_WWW, ask_resolver, first_address, upstream_count
from .recursive.trace_dig import trace_resolution


def show_resolver_lines(h: Hierarchy, since: int, trace: Trace) -> None:
    """Print what the resolver process traced since line ``since`` (its own view of the query)."""
    for line in h.resolver.output().splitlines()[since:]:
        trace.note(f"  resolver| {line}")


def act_topology(h: Hierarchy, trace: Trace) -> None:
    trace.banner(f"Act 1: a DNS internet on loopback, every server on port {h.port}")
    for server in SERVERS:
        zones = ", ".join(z.removesuffix(".zone") for z in server.zones) or "example.com (AXFR from .3)"
        trace.note(f"{server.address:<12} {server.name:<12} serves {zones}")
    trace.note(f"{RESOLVER_ADDRESS:<12} {'resolver':<12} recursion for 127.0.0.0/8, root hint 127.53.0.1")
    trace.note(f"compressed clock: {propagation.SCALE}")


def act_trace(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 2: one resolution, root -> com. -> example.com. (like dig +trace)")
    result = asyncio.run(trace_resolution("www.example.com", "A", h.port, ["127.53.0.1"],
                                          trace.child("trace")))
    check(result.rcode == dns.rcode.NOERROR and result.answer[-1][0].address == OLD_WWW,
          f"dig +trace should end at {OLD_WWW}")


def act_cache(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 3: the resolver; the second query is answered from its cache")
    before, lines = upstream_count(h), h.resolver.line_count()
    address, ttl = first_address(ask_resolver(h, "www.example.com"))
    trace.received(f"client: www.example.com -> {address} (TTL {ttl})")
    first = upstream_count(h) - before
    show_resolver_lines(h, lines, trace)
    check(address == OLD_WWW and first >= 1, f"the first query should iterate ({first} upstream queries)")
    time.sleep(1.0)
    before, lines = upstream_count(h), h.resolver.line_count()
    address, ttl2 = first_address(ask_resolver(h, "www.example.com"))
    trace.received(f"client: www.example.com -> {address} (TTL {ttl2}, counted down in the cache)")
    show_resolver_lines(h, lines, trace)
    second = upstream_count(h) - before
    check(second == 0 and address == OLD_WWW, f"the second query should come from the cache ({second})")
    check(ttl2 <= ttl, "a cached answer's TTL counts down")
    trace.state(f"first query: {first} upstream queries; second: {second} (wire-bytes cache hit)")


RRL_ARGS = ["--rrl", "5", "--rrl-burst", "5", "--rrl-slip", "2"]
BURST = 20


def udp_burst(address: str, port: int, name: str, count: int) -> dict[int, dns.message.Message | None]:
    """Send ``count`` queries at once from one socket; id -> its UDP reply (None: none came)."""
    queries = {qid: dns.message.make_query(name, "A", id=qid) for qid in range(1, count + 1)}
    replies: dict[int, dns.message.Message | None] = dict.fromkeys(queries)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((address, port))
        for query in queries.values():
            sock.send(query.to_wire())
        deadline = time.monotonic() + 1.5  # a real client waits about this long before retrying
        while time.monotonic() < deadline and any(r is None for r in replies.values()):
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                reply = dns.message.from_wire(sock.recv(65535))
            except TimeoutError:
                break
            if reply.id in replies:
                replies[reply.id] = reply
    return replies


def act_rate_limit(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 4: response rate limiting; over the limit answers slip (TC=1) or are dropped")
    proc = h.add_resolver("resolver-rrl", RRL_RESOLVER_ADDRESS, RRL_ARGS)
    trace.note(f"a second resolver at {RRL_RESOLVER_ADDRESS}: {' '.join(RRL_ARGS)} "
               "(5 UDP answers/s per client, every 2nd answer over the limit truncated)")
    warm = dns.query.tcp(dns.message.make_query("www.example.com", "A"), RRL_RESOLVER_ADDRESS,
                         port=h.port, timeout=6)  # TCP is never limited: a warm cache, all 5 tokens left
    check(first_address(warm)[0] == OLD_WWW, "the RRL resolver should answer over TCP")
    lines = proc.line_count()
    replies = udp_burst(RRL_RESOLVER_ADDRESS, h.port, "www.example.com", BURST)
    answered = [qid for qid, r in replies.items() if r is not None and first_address(r)[0] == OLD_WWW]
    slipped = [qid for qid, r in replies.items() if r is not None and r.flags & dns.flags.TC and not r.answer]
    dropped = [qid for qid, r in replies.items() if r is None]
    trace.sent(f"client: {BURST} queries for www.example.com at once over UDP")
    trace.received(f"client: {len(answered)} answered, {len(slipped)} truncated (TC=1: slipped), "
                   f"{len(dropped)} with no reply (dropped)")
    own = proc.output().splitlines()[lines:]
    for line in own[:8]:
        trace.note(f"  resolver| {line}")
    if len(own) > 8:
        trace.note(f"  resolver| ... {len(own) - 8} more lines like these")
    tcp = [dns.query.tcp(dns.message.make_query("www.example.com", "A"), RRL_RESOLVER_ADDRESS,
                         port=h.port, timeout=6) for _ in slipped]  # what dig and every stub do on TC=1
    via_tcp = sum(1 for r in tcp if first_address(r)[0] == OLD_WWW)
    trace.received(f"client: asked the {len(slipped)} truncated ones again over TCP: {via_tcp} answered")
    check(answered and dropped, f"a burst should be answered up to the limit, then dropped "
          f"({len(answered)} answered, {len(dropped)} dropped)")
    check(slipped and via_tcp == len(slipped), f"with slip, some answers over the limit should come back "
          f"truncated and then be answered over TCP ({len(slipped)} slipped, {via_tcp} over TCP)")
    trace.state(f"rrl: {len(answered)} answers at once, {via_tcp} more over TCP after TC=1; a real client "
                f"asks the {len(dropped)} dropped ones again after its timeout.  A forged source gets "
                f"{len(answered) + len(slipped)} packets for {BURST} queries, {len(slipped)} of them empty")


def demo(verbose: bool) -> None:
    trace = Trace("demo", verbose=verbose)
    started = time.monotonic()
    with Hierarchy(verbose=verbose) as h:
        act_topology(h, trace)
        act_trace(h, trace)
        act_cache(h, trace)
        act_rate_limit(h, trace)
        trace.banner("Act 5 (a): www changes at the primary; the resolver keeps the old one until the TTL")
        propagation.record_change(h, trace)
        trace.banner("Act 6 (c): DNS-PERSIST-01, a standing TXT record a CA checks")
        propagation.persist_validation(h, trace)
        trace.banner("Act 7 (b): example.com moves to a new DNS provider (NS change at com.)")
        propagation.ns_move(h, trace)
        trace.banner("Act 8: serve-stale, every example.com server is down (RFC 8767)")
        propagation.serve_stale(h, trace, ("ns1.example", "ns2.example", "newdns"))
    trace.note(f"all acts checked in {time.monotonic() - started:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every response in full")
    args = parser.parse_args()
    run_main(lambda: demo(args.verbose))


if __name__ == "__main__":
    main()
