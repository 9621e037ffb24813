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

    python -m learn_dns.demo [-v] [--act N] [--no-delegation | --no-cache | --no-slip |
        --no-notify | --no-persist-record | --change-child-only | --no-serve-stale]

Each switch turns off the mechanism of one act (:data:`SWITCHES`), and that
act's check then fails: exit 1 and a ``FAILED:`` line naming what went wrong
(``tests/dns/test_dns_demo_fails.py`` runs each with ``--act N``).  Act 1 only
shows the address plan and checks nothing, so it has no switch.
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
from wirelab_common.waiting import NotInTime, eventually
from wirelab_common.wiretrace import Trace

from . import propagation
from .hierarchy import RESOLVER_ADDRESS, RRL_RESOLVER_ADDRESS, SERVERS, TRACE_ADDRESS, Hierarchy
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
                                          trace.child("trace"), local_address=TRACE_ADDRESS))
    check(result.rcode == dns.rcode.NOERROR and result.answer and result.answer[-1][0].address == OLD_WWW,
          f"dig +trace should end at {OLD_WWW}, not {dns.rcode.to_text(result.rcode)} "
          f"{[str(rrset) for rrset in result.answer]}")


def act_cache(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 3: the resolver; the second query is answered from its cache")
    before, lines = upstream_count(h), h.resolver.line_count()
    response = ask_resolver(h, "www.example.com")
    address, ttl = first_address(response)
    trace.received(f"client: www.example.com -> {address} (TTL {ttl})", peer="resolver", cid=str(response.id))
    first = upstream_count(h) - before
    show_resolver_lines(h, lines, trace)
    check(address == OLD_WWW and first >= 1, f"the first query should iterate ({first} upstream queries)")
    time.sleep(1.0)
    before, lines = upstream_count(h), h.resolver.line_count()
    response = ask_resolver(h, "www.example.com")
    address, ttl2 = first_address(response)
    trace.received(f"client: www.example.com -> {address} (TTL {ttl2}, counted down in the cache)",
                   peer="resolver", cid=str(response.id))
    show_resolver_lines(h, lines, trace)
    second = upstream_count(h) - before
    check(second == 0 and address == OLD_WWW,
          f"the second query should come from the cache ({second} upstream queries)")
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


def act_rate_limit(h: Hierarchy, trace: Trace, rrl_args: list[str]) -> None:
    trace.banner("Act 4: response rate limiting; over the limit answers slip (TC=1) or are dropped")
    proc = h.add_resolver("resolver-rrl", RRL_RESOLVER_ADDRESS, rrl_args)
    trace.note(f"a second resolver at {RRL_RESOLVER_ADDRESS}: {' '.join(rrl_args)} "
               "(5 UDP answers/s per client, every 2nd answer over the limit truncated)")
    warm = dns.query.tcp(dns.message.make_query("www.example.com", "A"), RRL_RESOLVER_ADDRESS,
                         port=h.port, timeout=6)  # TCP is never limited: a warm cache, all 5 tokens left
    check(first_address(warm)[0] == OLD_WWW, "the RRL resolver should answer over TCP")
    lines = proc.line_count()
    replies = udp_burst(RRL_RESOLVER_ADDRESS, h.port, "www.example.com", BURST)
    answered = [qid for qid, r in replies.items() if r is not None and first_address(r)[0] == OLD_WWW]
    slipped = [qid for qid, r in replies.items() if r is not None and r.flags & dns.flags.TC and not r.answer]
    dropped = [qid for qid, r in replies.items() if r is None]
    trace.sent(f"client: {BURST} queries for www.example.com at once over UDP", peer="resolver")
    trace.received(f"client: {len(answered)} answered, {len(slipped)} truncated (TC=1: slipped), "
                   f"{len(dropped)} with no reply (dropped)", peer="resolver")
    # The resolver's own verdicts: its output is read by a thread, so wait for them (bounded).  A
    # query the client counts as dropped must be one the resolver says it dropped, not a late reply.
    kinds = {"answered": "cache hit", "slipped": "over the response rate limit: slip",
             "dropped": "over the response rate limit: dropped"}

    def verdicts() -> dict[str, list[str]]:
        own = proc.output().splitlines()[lines:]
        return {kind: [line for line in own if text in line] for kind, text in kinds.items()}

    try:
        eventually(lambda: (len(verdicts()["slipped"]) >= len(slipped)
                            and (verdicts()["dropped"] or not dropped)),
                   5, "the resolver's own trace of its slip and drop verdicts")
    except NotInTime as exc:
        check(False, str(exc))
    for kind, found in verdicts().items():  # the first line of each kind, and how many there were
        if found:
            trace.note(f"  resolver| {found[0]}   ({len(found)} {kind})")
    tcp = [dns.query.tcp(dns.message.make_query("www.example.com", "A"), RRL_RESOLVER_ADDRESS,
                         port=h.port, timeout=6) for _ in slipped]  # what dig and every stub do on TC=1
    via_tcp = sum(1 for r in tcp if first_address(r)[0] == OLD_WWW)
    trace.received(f"client: asked the {len(slipped)} truncated ones again over TCP: {via_tcp} answered",
                   peer="resolver")
    check(answered and dropped, f"a burst should be answered up to the limit, then dropped "
          f"({len(answered)} answered, {len(dropped)} dropped)")
    check(slipped and via_tcp == len(slipped), f"with slip, some answers over the limit should come back "
          f"truncated and then be answered over TCP ({len(slipped)} slipped, {via_tcp} over TCP)")
    trace.state(f"rrl: {len(answered)} answers at once, {via_tcp} more over TCP after TC=1; a real client "
                f"asks the {len(dropped)} dropped ones again after its timeout.  A forged source gets "
                f"{len(answered) + len(slipped)} packets for {BURST} queries, {len(slipped)} of them empty")


SWITCHES = {  # demo flag -> (act, what it turns off); each makes that act's check fail
    "no_delegation": (2, "com. without example.com.'s NS and glue: no referral, the walk ends at com."),
    "no_cache": (3, "the resolver keeps nothing past 1 s (--max-ttl 1): the second query iterates again"),
    "no_slip": (4, "RRL without slip (--rrl-slip 0): every answer over the limit is dropped"),
    "no_notify": (5, "the primary sends no NOTIFY: the secondary follows only by polling the SOA"),
    "no_persist_record": (6, "example.com without its _validation-persist TXT record"),
    "change_child_only": (7, "the NS change made in the old provider's zone, not at com."),
    "no_serve_stale": (8, "the resolver never serves expired data (--max-stale 0)"),
}


def _without_delegation(text: str) -> str:
    owners = ("example.com.", "ns1.example.com.", "ns2.example.com.")
    return "\n".join(line for line in text.splitlines() if not line.startswith(owners)) + "\n"


def _without_persist_record(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("_validation-persist")) + "\n"


def demo(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose)
    started = time.monotonic()
    for flag, (act, what) in SWITCHES.items():
        if getattr(args, flag):
            trace.note(f"--{flag.replace('_', '-')}: {what}; act {act} should fail")
    resolver_args = (["--max-ttl", "1"] if args.no_cache else []) + \
        (["--max-stale", "0"] if args.no_serve_stale else [])
    edits = {"com.zone": _without_delegation} if args.no_delegation else {}
    if args.no_persist_record:
        edits["example.com.zone"] = _without_persist_record
    rrl = RRL_ARGS[:-1] + ["0"] if args.no_slip else RRL_ARGS
    acts = {
        1: lambda: act_topology(h, trace),
        2: lambda: act_trace(h, trace),
        3: lambda: act_cache(h, trace),
        4: lambda: act_rate_limit(h, trace, rrl),
        5: lambda: act_record_change(h, trace),
        6: lambda: act_persist(h, trace),
        7: lambda: act_ns_move(h, trace, not args.change_child_only),
        8: lambda: act_serve_stale(h, trace),
    }
    with Hierarchy(verbose=args.verbose, resolver_args=resolver_args, notify=not args.no_notify,
                   zone_edits=edits, clients={"127.0.0.1": "demo", TRACE_ADDRESS: "trace"}) as h:
        for number, act in acts.items():
            if args.act in (None, number):
                act()
    which = "all acts" if args.act is None else f"act {args.act}"
    trace.note(f"{which} checked in {time.monotonic() - started:.1f}s")


def act_record_change(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 5 (a): www changes at the primary; the resolver keeps the old one until the TTL")
    propagation.record_change(h, trace)


def act_persist(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 6 (c): DNS-PERSIST-01, a standing TXT record a CA checks")
    propagation.persist_validation(h, trace)


def act_ns_move(h: Hierarchy, trace: Trace, at_parent: bool) -> None:
    trace.banner("Act 7 (b): example.com moves to a new DNS provider (NS change at com.)")
    propagation.ns_move(h, trace, at_parent)


def act_serve_stale(h: Hierarchy, trace: Trace) -> None:
    trace.banner("Act 8: serve-stale, every example.com server is down (RFC 8767)")
    propagation.serve_stale(h, trace, ("ns1.example", "ns2.example", "newdns"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every response in full")
    parser.add_argument("--act", type=int, choices=range(1, 9), metavar="N",
                        help="play act N only (1-8; the loopback internet is started all the same)")
    switches = parser.add_argument_group("switches that turn one act's mechanism off (that act then fails)")
    for flag, (act, what) in SWITCHES.items():
        switches.add_argument(f"--{flag.replace('_', '-')}", action="store_true", help=f"act {act}: {what}")
    args = parser.parse_args()
    run_main(lambda: demo(args))


if __name__ == "__main__":
    main()
