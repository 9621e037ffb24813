"""Why a DNS change "takes 24-72 hours to propagate", replayed on a compressed clock.

Reading order: after ``hierarchy.py``; ``demo.py`` runs these scenarios in turn,
and so does ``tests/dns/test_dns_propagation.py``.  Each scenario checks what it
saw (``check``) and returns what it measured.

The clock: the zone files use TTLs of a few seconds where the real internet uses
hours or days.  **1 second here stands for about 1 hour there**: a 5 s record TTL
is a 5-hour TTL; the 8 s NS TTL at the TLD stands for the usual 2 days
(172800 s) of com's delegations (48 s at that scale, like the root's own NS
TTL; shortened so that act 6 of the demo takes seconds, not a minute).
Nothing propagates in DNS; nothing is pushed to resolvers.  Each resolver keeps
what it was told until the TTL it was given runs out, then asks again.
"Propagation time" is just the longest TTL in the way.

- :func:`record_change`: an A record changes at the primary.  The secondary
  follows at once (NOTIFY, RFC 1996, then a zone transfer); the resolver keeps
  answering the old address until its cached copy expires.
- :func:`ns_move`: the domain moves to a new DNS provider, which means new NS
  records *at the parent* (com).  A resolver holding the old NS set keeps asking
  the old provider, which still answers with old data, until the parent's NS
  TTL runs out: that is the "24-72 hours" (a 2-day NS TTL, plus the record TTLs
  behind it, plus resolvers that cap or stretch TTLs).
- :func:`persist_validation`: a CA looks up ``_validation-persist`` through the resolver.
- :func:`serve_stale`: every server of the zone is down; the resolver answers
  from its expired cache with a short TTL instead of failing (RFC 8767).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from wirelab_common.errors import check
from wirelab_common.processes import ProcessNotReady
from wirelab_common.waiting import NotInTime, eventually
from wirelab_common.wiretrace import Trace

from . import persist
from .hierarchy import RESOLVER_ADDRESS, Hierarchy

SCALE = "1 s here ~ 1 h in the real world"
OLD_WWW, CHANGED_WWW, NEW_PROVIDER_WWW = "192.0.2.10", "192.0.2.99", "203.0.113.20"
POLL_INTERVAL = 0.5
UPSTREAM_LINE = re.compile(r"^> resolver\s+127\.53\.")
# The resolver's last line for each client query, printed before it sends the answer.
ANSWERED_LINE = r"^(> resolver\s+client \S+ \S+ \d+ RRset|= resolver\s+cache hit for)"


def ask(port: int, name: str, rdtype: str = "A", server: str = RESOLVER_ADDRESS,
        timeout: float = 6.0) -> dns.message.Message:
    """One query over UDP, as a stub resolver would send it (RD=1)."""
    query = dns.message.make_query(name, rdtype, use_edns=0)
    return dns.query.udp(query, server, port=port, timeout=timeout)


def ask_resolver(h: Hierarchy, name: str, rdtype: str = "A") -> dns.message.Message:
    """:func:`ask` the hierarchy's resolver, then wait until its trace of that query has been read.

    The resolver prints its lines before it answers, but they reach this process
    through a pipe and a reader thread; waiting for the query's last line makes
    :func:`upstream_count` and the printed excerpts complete, however loaded the machine.
    """
    start = h.resolver.line_count()
    response = ask(h.port, name, rdtype)
    h.resolver.wait_line(ANSWERED_LINE, timeout=10, start=start)
    return response


def first_address(response: dns.message.Message) -> tuple[str | None, int]:
    """(the first A address in the answer, its TTL), or (None, 0)."""
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.A:
            return rrset[0].address, rrset.ttl
    return None, 0


def upstream_count(h: Hierarchy) -> int:
    """How many queries the resolver has sent to authoritative servers so far (from its trace)."""
    return sum(1 for line in h.resolver.output().splitlines() if UPSTREAM_LINE.match(line))


@dataclass
class Timeline:
    """Answers seen while polling: (seconds since the change, address, TTL)."""

    seen: list[tuple[float, str | None, int]] = field(default_factory=list)

    def first_time_of(self, address: str) -> float | None:
        return next((t for t, a, _ttl in self.seen if a == address), None)


def poll_resolver(h: Hierarchy, name: str, want: str, since: float, limit: float, trace: Trace,
                  show_switch: bool = False) -> Timeline:
    """Ask the resolver every POLL_INTERVAL s until it answers ``want`` (or ``limit`` s pass).

    With ``show_switch`` the resolver's own trace of the query that got ``want`` is printed.
    """
    timeline = Timeline()
    last = None
    while True:
        lines = h.resolver.line_count()
        address, ttl = first_address(ask_resolver(h, name))
        if show_switch and address == want:
            for line in h.resolver.output().splitlines()[lines:]:
                trace.note(f"  resolver| {line}")
        elapsed = time.monotonic() - since
        timeline.seen.append((elapsed, address, ttl))
        if address != last:
            trace.received(f"t+{elapsed:4.1f}s  {name} -> {address} (TTL {ttl})", peer="resolver")
            last = address
        if address == want or elapsed > limit:
            return timeline
        time.sleep(POLL_INTERVAL)


def record_change(h: Hierarchy, trace: Trace) -> Timeline:
    """(a) www changes at the primary; the secondary follows; the resolver follows the TTL."""
    before, ttl = first_address(ask(h.port, "www.example.com"))
    fetched = time.monotonic()
    trace.received(f"resolver: www.example.com -> {before} (TTL {ttl}): now in its cache", peer="resolver")
    serial = h.edit_zone("example.com.zone", "ns1.example",
                         lambda text: re.sub(rf"(?m)^(www\s+\d+\s+IN\s+A\s+){re.escape(OLD_WWW)}",
                                             rf"\g<1>{CHANGED_WWW}", text))
    changed = time.monotonic()
    trace.sent(f"primary: www A {OLD_WWW} -> {CHANGED_WWW}, serial {serial}, SIGHUP (it NOTIFYs ns2)",
               peer="127.53.0.3")  # an authoritative server's actor name is its address
    notified = h.procs["ns1.example"].line_count()

    def both_changed() -> bool:
        return all(first_address(ask(h.port, "www.example.com", server=server))[0] == CHANGED_WWW
                   for server in ("127.53.0.3", "127.53.0.4"))

    try:  # NOTIFY: at once; the 3 s refresh would do it too
        eventually(both_changed, 15, "primary and secondary answer the new address", interval=0.2)
    except NotInTime:
        check(False, "the secondary did not pick up the new serial (NOTIFY + AXFR)")
    follows = time.monotonic() - changed
    try:  # the refresh timer alone would have got there too, a little later: was it NOTIFY?
        h.procs["ns1.example"].wait_line(r"NOTIFY acknowledged by 127\.53\.0\.4", 3, start=notified)
    except ProcessNotReady:
        check(False, "the primary sent no NOTIFY that the secondary acknowledged: the secondary "
                     f"followed {follows:.1f}s later only by polling the SOA (its refresh timer)")
    trace.received(f"t+{follows:4.1f}s  primary and secondary both answer {CHANGED_WWW} (NOTIFY, AXFR)",
                   peer="127.53.0.4")
    timeline = poll_resolver(h, "www.example.com", CHANGED_WWW, changed, 15, trace)
    switched = timeline.first_time_of(CHANGED_WWW)
    check(switched is not None, f"the resolver never returned {CHANGED_WWW}: {timeline.seen}")
    if changed + timeline.seen[0][0] < fetched + ttl - 1:  # (a slow machine may get there too late)
        check(timeline.seen[0][1] == before, "the resolver should keep the cached address at first")
    trace.state(f"the resolver switched after {switched:.1f}s, when its cached TTL ran out "
                f"(at most {ttl}s here, {ttl} hours in the real world)")
    return timeline


def _move_to_new_provider(text: str) -> str:
    """The com zone with example.com delegated to ns1.newdns.net (no glue needed: it is in net)."""
    lines = []
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] in (["example.com."], ["ns1.example.com."], ["ns2.example.com."]):
            continue
        lines.append(line)
    lines.append("example.com.        8   IN NS   ns1.newdns.net.")
    return "\n".join(lines) + "\n"


def _child_ns_to_new_provider(text: str) -> str:
    """The old provider's example.com zone with its apex NS set pointing at newdns.net."""
    lines = [line for line in text.splitlines() if not re.match(r"@\s+\d+\s+IN\s+NS\s", line)]
    return "\n".join(lines) + "\n@       8   IN NS   ns1.newdns.net.\n"


def delegation_names(h: Hierarchy, target: str) -> bool:
    """Ask the com server directly: does its referral for example.com name ``target``?"""
    direct = ask(h.port, "example.com", "NS", server="127.53.0.2")
    return any(str(rd.target) == target for rr in direct.authority + direct.answer for rd in rr
               if rr.rdtype == dns.rdatatype.NS)


def ns_move(h: Hierarchy, trace: Trace, at_parent: bool = True) -> Timeline:
    """(b) example.com moves to newdns.net: the NS change happens at com, the parent.

    ``at_parent=False`` (the demo's ``--change-child-only``) makes the change where it
    does not count, in the old provider's copy of the zone: resolvers follow the
    parent's referral, so nobody ever reaches the new provider."""
    h.restart_resolver()  # an empty cache, so the NS TTL starts counting now
    start = time.monotonic()
    before, ttl = first_address(ask(h.port, "www.example.com"))
    trace.received(f"fresh resolver: www.example.com -> {before} (TTL {ttl}); it cached com's "
                   f"NS set for example.com (TTL 8, standing for com.'s 2 days)", peer="resolver")
    if at_parent:
        serial = h.edit_zone("com.zone", "gtld", _move_to_new_provider)
        trace.sent(f"com: example.com NS -> ns1.newdns.net, glue removed, serial {serial}, SIGHUP",
                   peer="127.53.0.2")
        try:
            eventually(lambda: delegation_names(h, "ns1.newdns.net."), 15, "com refers to ns1.newdns.net")
        except NotInTime as exc:
            check(False, f"the com server did not pick up the new delegation ({exc})")
        trace.received("com server now refers example.com to ns1.newdns.net; the old provider still "
                       f"answers {before} for anyone who asks it", peer="127.53.0.2")
    else:
        serial = h.edit_zone("example.com.zone", "ns1.example", _child_ns_to_new_provider)
        trace.sent(f"ns1.example.com: example.com NS -> ns1.newdns.net in the CHILD zone only, serial "
                   f"{serial}, SIGHUP; com. still refers to ns1/ns2.example.com", peer="127.53.0.3")
    timeline = poll_resolver(h, "www.example.com", NEW_PROVIDER_WWW, start, 25, trace, show_switch=True)
    switched = timeline.first_time_of(NEW_PROVIDER_WWW)
    check(switched is not None, f"the resolver never reached the new provider: {timeline.seen}")
    check(any(a == before for t, a, _ in timeline.seen if t > 1.0),
          "the resolver should have kept asking the old provider for a while")
    trace.state(f"new provider reached {switched:.1f}s after the resolver first cached the delegation: "
                f"the NS TTL (8 s) plus what was left of the record's TTL; real world: 2 days + hours")
    return timeline


def persist_validation(h: Hierarchy, trace: Trace, account: str = "https://acme.example/acct/123",
                       issuer: str = "letsencrypt.org") -> tuple[bool, str]:
    """(c) a CA resolves ``_validation-persist.example.com`` TXT and checks the account URI."""
    name = persist.record_name("example.com")
    response = ask(h.port, name, "TXT")
    texts = [b"".join(rd.strings).decode() for rr in response.answer if rr.rdtype == dns.rdatatype.TXT
             for rd in rr]
    trace.received(f"resolver: {name} TXT -> {texts}", peer="resolver", cid=str(response.id))
    verdict, why = persist.validate(texts, issuer, account, time.time())
    trace.state(f"CA check for {account}: {'valid' if verdict else 'invalid'} ({why})")
    check(verdict, f"the persistent record should authorize {account}: {why}")
    wrong, why_wrong = persist.validate(texts, issuer, "https://acme.example/acct/999", time.time())
    check(not wrong, "another account must not be authorized")
    trace.state(f"CA check for another account: invalid ({why_wrong})")
    return verdict, why


def serve_stale(h: Hierarchy, trace: Trace, servers: tuple[str, ...]) -> dns.message.Message:
    """Every server of example.com goes down; the resolver answers from its expired cache."""
    fresh = ask(h.port, "www.example.com")
    address, ttl = first_address(fresh)
    trace.received(f"resolver: www.example.com -> {address} (TTL {ttl})", peer="resolver", cid=str(fresh.id))
    for name in servers:
        h.stop(name)
    trace.sent(f"stopped {', '.join(servers)}: nobody answers for example.com now",
               peer="127.53.0.3")  # (and .4, .5: one arrow, to the primary)
    time.sleep(ttl + 0.5)
    trace.note(f"{ttl + 0.5:.1f}s later the cached answer has expired")
    response = ask(h.port, "www.example.com")
    stale_address, stale_ttl = first_address(response)
    trace.received(f"resolver: {dns.rcode.to_text(response.rcode())} www.example.com -> {stale_address} "
                   f"(TTL {stale_ttl}: a stale answer)", peer="resolver", cid=str(response.id))
    check(response.rcode() == dns.rcode.NOERROR and stale_address == address,
          f"expected the stale answer {address}, got {dns.rcode.to_text(response.rcode())} "
          f"{[str(rrset) for rrset in response.answer]}")
    check(stale_ttl <= 30, "a stale answer carries a short TTL (RFC 8767 §4)")
    missing = ask(h.port, "neverseen.example.com")
    trace.received(f"resolver: neverseen.example.com -> {dns.rcode.to_text(missing.rcode())} "
                   f"(nothing stale to serve)", peer="resolver", cid=str(missing.id))
    check(missing.rcode() == dns.rcode.SERVFAIL, "a name never cached cannot be served stale")
    return response
