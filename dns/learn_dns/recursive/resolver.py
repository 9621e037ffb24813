"""Iterative resolution as a step function: which server to ask next, and what an answer means.

Reading order: after ``cache.py``.  This is the resolver's brain with no I/O: no
sockets, no clock, no randomness.  The driver (``upstream.Recursor``) runs
the loop::

    resolution = Resolution(qname, qtype, cache, root_hints)
    while True:
        step = resolution.next_step()
        if isinstance(step, Finished): break
        if isinstance(step, SendQuery):       # ask step.server about step.qname/step.qtype
            resolution.on_response(step, response)    # or resolution.on_timeout(step)
        if isinstance(step, ResolveAddress):  # a glueless NS: resolve its name first
            resolution.address_resolved(step.nsname, addresses)

It follows RFC 1034 §5.3.3 ("Algorithm"): look in the cache; else find the
closest known zone cut, ask one of its servers; an answer ends the search, a
referral moves the search one zone down, a CNAME restarts it at the target name.

The safety rules that matter, each one line below:

- **Bailiwick** (RFC 2181 §5.4.1, the Kaminsky-era lesson): a server is only
  believed about names inside the zone we asked it about.  The com server may
  tell us where example.com's servers are; it may not tell us the address of
  www.bank.net.  Records outside the zone are dropped and reported in ``events``.
- **Referral sanity**: a referral must move *down*, towards the name we want.
- **Limits**: CNAME chains, referrals and queries per resolution are bounded, so
  a loop in someone's zone costs us a few packets, not a hang.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from .cache import Cache, Rank

MAX_CNAMES = 8
MAX_REFERRALS = 16
MAX_QUERIES = 32


@dataclass(frozen=True)
class SendQuery:
    """Ask ``server`` for ``qname``/``qtype``; it is believed to serve ``zone`` (its bailiwick)."""

    server: str
    qname: dns.name.Name
    qtype: int
    zone: dns.name.Name


@dataclass(frozen=True)
class ResolveAddress:
    """The zone's servers are known by name only (no glue): find ``nsname``'s address first."""

    nsname: dns.name.Name


@dataclass(frozen=True)
class Finished:
    """The outcome: an rcode, the answer (CNAMEs first), the SOA of a negative answer."""

    rcode: int
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    from_cache: bool = False
    stale: bool = False
    reason: str = ""


Step = SendQuery | ResolveAddress | Finished


def _find(rrsets: list[dns.rrset.RRset], name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
    for rrset in rrsets:
        if rrset.name == name and rrset.rdtype == rdtype:
            return rrset
    return None


class Resolution:
    """One question being resolved; feed it responses, ask it for the next step."""

    def __init__(self, qname: dns.name.Name, qtype: int, cache: Cache, root_hints: list[str]) -> None:
        self.qname = qname
        self.qtype = qtype
        self.cache = cache
        self.root_hints = list(root_hints)
        self.target = qname  # moves along a CNAME chain
        self.chain: list[dns.rrset.RRset] = []
        self.zone: dns.name.Name | None = None  # the zone cut being asked; None = look in the cache
        self.nameservers: dict[dns.name.Name, list[str]] = {}
        self.tried: set[str] = set()
        self.glueless_asked: set[dns.name.Name] = set()
        self.referrals = 0
        self.queries = 0
        self.events: list[str] = []  # what happened, in words, for the trace
        self.result: Finished | None = None

    # -- the step function ----------------------------------------------------------------------

    def next_step(self) -> Step:
        if self.result is not None:
            return self.result
        if self.zone is None:
            cached = self._answer_from_cache()
            if cached is not None:
                return cached
            self._start_at_closest_cut()
        assert self.zone is not None
        for addresses in self.nameservers.values():
            for server in addresses:
                if server not in self.tried:
                    if self.queries >= MAX_QUERIES:
                        return self._finish(dns.rcode.SERVFAIL, reason="too many queries")
                    self.tried.add(server)
                    self.queries += 1
                    return SendQuery(server, self.target, self.qtype, self.zone)
        for nsname, addresses in self.nameservers.items():
            if not addresses and nsname not in self.glueless_asked and not nsname.is_subdomain(self.zone):
                self.glueless_asked.add(nsname)
                return ResolveAddress(nsname)
        return self._finish(dns.rcode.SERVFAIL, reason=f"no server for {self.zone} answered")

    def on_timeout(self, query: SendQuery, why: str = "no answer") -> None:
        self.events.append(f"{query.server}: {why}; trying another server of {query.zone}")

    def address_resolved(self, nsname: dns.name.Name, addresses: list[str]) -> None:
        if nsname in self.nameservers:
            self.nameservers[nsname] = list(addresses)

    def on_response(self, query: SendQuery, response: dns.message.Message) -> None:
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            self.on_timeout(query, f"answered {dns.rcode.to_text(rcode)}")
            return
        zone = query.zone
        answer = self._in_bailiwick(response.answer, zone, query.server)
        authority = self._in_bailiwick(response.authority, zone, query.server)
        additional = self._in_bailiwick(response.additional, zone, query.server)
        if response.flags & dns.flags.AA:
            self._authoritative(rcode, answer, authority)
        else:
            self._referral(query, authority, additional)

    # -- what a response means --------------------------------------------------------------------

    def _authoritative(self, rcode: int, answer: list[dns.rrset.RRset],
                       authority: list[dns.rrset.RRset]) -> None:
        name = self.target
        while True:
            found = _find(answer, name, self.qtype)
            if found is not None:
                self.cache.put(found, Rank.ANSWER)
                self.chain.append(found)
                self._finish(dns.rcode.NOERROR)
                return
            cname = _find(answer, name, dns.rdatatype.CNAME) if self.qtype != dns.rdatatype.CNAME else None
            if cname is None:
                break
            self.cache.put(cname, Rank.ANSWER)
            self.chain.append(cname)
            if len(self.chain) > MAX_CNAMES:
                self._finish(dns.rcode.SERVFAIL, reason="CNAME chain too long")
                return
            name = cname[0].target
            self.events.append(f"CNAME -> {name}")
        soa = next((r for r in authority if r.rdtype == dns.rdatatype.SOA), None)
        if name != self.target and rcode == dns.rcode.NOERROR and soa is None:
            # The chain left this zone: start again for the target, from the cache (RFC 1034 §5.3.3 step 4).
            self.target = name
            self.zone = None
            return
        self.target = name
        ttl = self.cache.put_negative(name, self.qtype, rcode, soa)
        kind = "NXDOMAIN" if rcode == dns.rcode.NXDOMAIN else "NODATA"
        self.events.append(f"{kind} for {name}, cached {ttl}s (RFC 2308)")
        self._finish(rcode, authority=[soa] if soa is not None else [])

    def _referral(self, query: SendQuery, authority: list[dns.rrset.RRset],
                  additional: list[dns.rrset.RRset]) -> None:
        ns = next((r for r in authority if r.rdtype == dns.rdatatype.NS), None)
        if (ns is None or ns.name == query.zone or not ns.name.is_subdomain(query.zone)
                or not self.target.is_subdomain(ns.name)):
            # Not authoritative and not a step down: a lame server (RFC 1034 §5.3.3 step 4, "bad").
            self.on_timeout(query, "lame (neither an answer nor a referral downwards)")
            return
        self.referrals += 1
        if self.referrals > MAX_REFERRALS:
            self._finish(dns.rcode.SERVFAIL, reason="too many referrals")
            return
        self.cache.put(ns, Rank.REFERRAL)
        names = {rdata.target for rdata in ns}
        glue = 0
        for rrset in additional:
            if rrset.rdtype == dns.rdatatype.A and rrset.name in names:
                self.cache.put(rrset, Rank.GLUE)
                glue += 1
        self.events.append(f"referral to {ns.name} ({len(names)} NS, {glue} with glue)")
        self._use_delegation(ns)

    def _in_bailiwick(self, rrsets: list[dns.rrset.RRset], zone: dns.name.Name,
                      server: str) -> list[dns.rrset.RRset]:
        kept = []
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.OPT:
                continue
            if rrset.name.is_subdomain(zone):
                kept.append(rrset)
            else:
                self.events.append(f"ignored out-of-bailiwick {rrset.name} "
                                   f"{dns.rdatatype.to_text(rrset.rdtype)} from {server} (serves {zone})")
        return kept

    # -- where to start -------------------------------------------------------------------------

    def _answer_from_cache(self) -> Finished | None:
        while True:
            hit = self.cache.get(self.target, self.qtype)
            if hit is not None:
                if hit.negative:
                    soa = []
                    if hit.entry.soa is not None:
                        # RFC 2308 §5: the SOA's TTL is the negative TTL, and like any cached
                        # TTL it counts down; the original would let it live on downstream.
                        soa = [hit.entry.soa.copy()]
                        soa[0].ttl = hit.ttl
                    return self._finish(hit.entry.rcode, authority=soa, from_cache=True)
                rrset = self.cache.rrset(self.target, self.qtype)
                assert rrset is not None
                self.chain.append(rrset)
                return self._finish(dns.rcode.NOERROR, from_cache=True)
            if self.qtype == dns.rdatatype.CNAME:
                return None
            cname = self.cache.rrset(self.target, dns.rdatatype.CNAME)
            if cname is None or len(self.chain) >= MAX_CNAMES:
                return None
            self.chain.append(cname)
            self.target = cname[0].target

    def _start_at_closest_cut(self) -> None:
        name = self.target
        while True:
            ns = self.cache.closest_delegation(name)
            if ns is None:
                self.zone = dns.name.root
                self.nameservers = {dns.name.root: list(self.root_hints)}
                self.tried = set()
                self.events.append(f"start at the root hints {', '.join(self.root_hints)}")
                return
            if self._use_delegation(ns) or ns.name == dns.name.root:
                self.events.append(f"cache: closest zone cut is {ns.name}")
                return
            name = ns.name.parent()  # every server of this cut needs glue we no longer have

    def _use_delegation(self, ns: dns.rrset.RRset) -> bool:
        """Make ``ns``'s zone the one to ask; False if none of its servers is reachable."""
        self.zone = ns.name
        self.tried = set()
        self.nameservers = {rdata.target: self.cache.addresses(rdata.target) for rdata in ns}
        return any(addrs or not nsname.is_subdomain(ns.name) for nsname, addrs in self.nameservers.items())

    def _finish(self, rcode: int, authority: list[dns.rrset.RRset] | None = None,
                from_cache: bool = False, reason: str = "") -> Finished:
        self.result = Finished(rcode, list(self.chain), authority or [], from_cache, False, reason)
        return self.result


def stale_answer(cache: Cache, qname: dns.name.Name, qtype: int, stale_ttl: int) -> Finished | None:
    """RFC 8767 §4: when resolution failed, the expired answer if the cache still has one.

    Every RRset of the answer (the CNAME chain included) is given ``stale_ttl``
    so that clients come back soon and get fresh data once the servers return.
    """
    chain, name = [], qname
    for _ in range(MAX_CNAMES + 1):
        found = cache.rrset(name, qtype, stale=True)
        if found is not None:
            chain.append(found)
            for rrset in chain:
                rrset.ttl = stale_ttl
            return Finished(dns.rcode.NOERROR, chain, [], from_cache=True, stale=True)
        cname = cache.rrset(name, dns.rdatatype.CNAME, stale=True)
        if cname is None or qtype == dns.rdatatype.CNAME:
            return None
        chain.append(cname)
        name = cname[0].target
    return None
