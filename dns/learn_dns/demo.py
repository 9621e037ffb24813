"""``make demo-dns``: a loopback DNS internet, one resolution traced, a cache, and propagation.

Reading order: last.  It starts :class:`hierarchy.Hierarchy` (root, com/net,
example.com primary + secondary, a new provider, our resolver) on one free port,
then plays seven acts, each checked:

1. the topology;
2. one resolution from the root, step by step (``dig +trace``);
3. the resolver: a first query iterates, a second is answered from the cache;
4. (a) a record changes: the secondary follows at once, the resolver after the TTL;
5. (c) DNS-PERSIST-01: a CA validates a standing TXT record through the resolver;
6. (b) the NS move: the parent's NS TTL decides when the new provider is used;
7. serve-stale: every example.com server is down, the resolver still answers.

    python -m learn_dns.demo [-v]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import dns.rcode

from wirelab_common.errors import check, run_main
from wirelab_common.wiretrace import Trace

from . import propagation
from .hierarchy import RESOLVER_ADDRESS, SERVERS, Hierarchy
from .propagation import OLD_WWW, ask_resolver, first_address, upstream_count
from .trace_dig import trace_resolution


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


def demo(verbose: bool) -> None:
    trace = Trace("demo", verbose=verbose)
    started = time.monotonic()
    with Hierarchy(verbose=verbose) as h:
        act_topology(h, trace)
        act_trace(h, trace)
        act_cache(h, trace)
        trace.banner("Act 4 (a): www changes at the primary; the resolver keeps the old one until the TTL")
        propagation.record_change(h, trace)
        trace.banner("Act 5 (c): DNS-PERSIST-01, a standing TXT record a CA checks")
        propagation.persist_validation(h, trace)
        trace.banner("Act 6 (b): example.com moves to a new DNS provider (NS change at com.)")
        propagation.ns_move(h, trace)
        trace.banner("Act 7: serve-stale, every example.com server is down (RFC 8767)")
        propagation.serve_stale(h, trace, ("ns1.example", "ns2.example", "newdns"))
    trace.note(f"all acts checked in {time.monotonic() - started:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every response in full")
    args = parser.parse_args()
    run_main(lambda: demo(args.verbose))


if __name__ == "__main__":
    main()
