"""The resolver's step function against a network made of dictionaries: no sockets, no clock.

``Internet`` answers a query the way an authoritative server would (referral,
answer, NODATA, NXDOMAIN) from dnspython zones, so each test reads as the story of
one resolution: which server was asked, and what the resolver concluded.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from learn_dns.recursive.cache import Cache
from learn_dns.recursive.resolver import Finished, Resolution, ResolveAddress, SendQuery, stale_answer

pytestmark = pytest.mark.pure

ROOT = """
@ 48 SOA a.root. h.root. 1 30 10 600 8
@ 48 NS a.root-servers.net.
com. 8 NS a.gtld-servers.net.
net. 8 NS a.gtld-servers.net.
a.gtld-servers.net. 8 A 10.0.0.2
"""
COM = """
@ 8 SOA a.gtld-servers.net. h.com. 1 3 1 600 4
@ 8 NS a.gtld-servers.net.
example.com. 8 NS ns1.example.com.
ns1.example.com. 8 A 10.0.0.3
glueless.com. 8 NS ns1.newdns.net.
"""
NET = """
@ 8 SOA a.gtld-servers.net. h.net. 1 3 1 600 4
@ 8 NS a.gtld-servers.net.
newdns.net. 8 NS ns1.newdns.net.
ns1.newdns.net. 8 A 10.0.0.5
"""
EXAMPLE = """
@ 5 SOA ns1 h 1 3 1 600 4
@ 8 NS ns1
ns1 8 A 10.0.0.3
www 5 A 192.0.2.10
ftp 5 CNAME www
out 5 CNAME www.glueless.com.
"""
NEWDNS = """
@ 6 SOA ns1 h 1 3 1 600 4
@ 6 NS ns1
ns1 6 A 10.0.0.5
"""
GLUELESS = """
@ 5 SOA ns1.newdns.net. h 1 3 1 600 4
@ 5 NS ns1.newdns.net.
www 5 A 203.0.113.20
"""


def zone(origin: str, text: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=origin, relativize=False)


class Internet:
    """server address -> the zones it serves; ``ask`` answers like an authoritative server."""

    def __init__(self) -> None:
        self.servers = {
            "10.0.0.1": [zone(".", ROOT)],
            "10.0.0.2": [zone("com.", COM), zone("net.", NET)],
            "10.0.0.3": [zone("example.com.", EXAMPLE)],
            "10.0.0.5": [zone("newdns.net.", NEWDNS), zone("glueless.com.", GLUELESS)],
        }
        self.log: list[str] = []

    def ask(self, server: str, qname: dns.name.Name, qtype: int) -> dns.message.Message | None:
        self.log.append(f"{server} {qname} {dns.rdatatype.to_text(qtype)}")
        zones = [z for z in self.servers.get(server, []) if qname.is_subdomain(z.origin)]
        if not zones:
            return None  # timeout
        z = max(zones, key=lambda z: len(z.origin))
        response = dns.message.make_response(dns.message.make_query(qname, qtype))
        for depth in range(len(z.origin) + 1, len(qname) + 1):  # a delegation on the way down?
            cut = qname.split(depth)[1]
            ns = z.get_rrset(cut, "NS")
            if ns is not None:
                response.authority.append(ns)
                for rdata in ns:
                    glue = z.get_rrset(rdata.target, "A")
                    if glue is not None:
                        response.additional.append(glue)
                return response
        response.flags |= dns.flags.AA
        name = qname
        while True:
            found = z.get_rrset(name, qtype)
            if found is not None:
                response.answer.append(found)
                return response
            cname = z.get_rrset(name, "CNAME")
            if cname is None:
                break
            response.answer.append(cname)
            name = cname[0].target
            if not name.is_subdomain(z.origin):
                return response
        if z.get_node(name) is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(z.get_rrset(z.origin, "SOA"))
        return response


def run(resolution: Resolution, net: Internet, depth: int = 0) -> Finished:
    """The driver loop of recursive.upstream.Recursor, synchronously."""
    while True:
        step = resolution.next_step()
        if isinstance(step, Finished):
            return step
        if isinstance(step, SendQuery):
            response = net.ask(step.server, step.qname, step.qtype)
            if response is None:
                resolution.on_timeout(step)
            else:
                resolution.on_response(step, response)
        else:
            assert isinstance(step, ResolveAddress)
            sub = run(Resolution(step.nsname, dns.rdatatype.A, resolution.cache, resolution.root_hints),
                      net, depth + 1)
            resolution.address_resolved(step.nsname, [r.address for rr in sub.answer for r in rr
                                                      if rr.rdtype == dns.rdatatype.A])


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def resolve(name: str, qtype: str = "A", cache: Cache | None = None, net: Internet | None = None):
    net = net or Internet()
    cache = cache if cache is not None else Cache(Clock())
    res = Resolution(dns.name.from_text(name), dns.rdatatype.from_text(qtype), cache, ["10.0.0.1"])
    return run(res, net), net, res


def test_resolution_follows_referrals_from_the_root_down_using_glue():
    result, net, _ = resolve("www.example.com.")
    assert result.rcode == dns.rcode.NOERROR
    assert result.answer[0][0].address == "192.0.2.10"
    assert [line.split()[0] for line in net.log] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_a_second_resolution_is_answered_from_the_cache_without_any_query():
    cache = Cache(Clock())
    resolve("www.example.com.", cache=cache)
    result, net, _ = resolve("www.example.com.", cache=cache)
    assert result.from_cache and net.log == []


def test_a_sibling_name_starts_at_the_cached_zone_cut_not_at_the_root():
    cache = Cache(Clock())
    resolve("www.example.com.", cache=cache)
    result, net, _ = resolve("nothere.example.com.", cache=cache)
    assert result.rcode == dns.rcode.NXDOMAIN
    assert net.log == ["10.0.0.3 nothere.example.com. A"]


def test_a_cname_inside_the_zone_is_followed_in_one_answer():
    result, _, _ = resolve("ftp.example.com.")
    assert [rr.rdtype for rr in result.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def test_a_cname_into_another_zone_restarts_and_resolves_a_glueless_name_server():
    result, net, _ = resolve("out.example.com.")
    assert result.rcode == dns.rcode.NOERROR
    assert result.answer[-1][0].address == "203.0.113.20"
    assert "10.0.0.2 ns1.newdns.net. A" in net.log  # the glueless NS was resolved on the way


def test_nodata_and_nxdomain_are_negative_answers_with_the_soa():
    result, _, _ = resolve("www.example.com.", "MX")
    assert result.rcode == dns.rcode.NOERROR and not result.answer
    assert result.authority[0].rdtype == dns.rdatatype.SOA
    result, _, _ = resolve("nope.example.com.")
    assert result.rcode == dns.rcode.NXDOMAIN


def test_a_negative_answer_from_the_cache_carries_what_is_left_of_its_ttl():
    clock = Clock()
    cache = Cache(clock)
    fresh, _, _ = resolve("nope.example.com.", cache=cache)
    assert fresh.authority[0].ttl == 5  # the SOA as received; the server clamps it to MINIMUM 4
    clock.now += 2.5
    cached, net, _ = resolve("nope.example.com.", cache=cache)
    assert cached.from_cache and net.log == []
    assert cached.rcode == dns.rcode.NXDOMAIN and cached.authority[0].ttl == 1  # 4 - 2.5, RFC 2308 §5
    assert cache.get(dns.name.from_text("nope.example.com."), dns.rdatatype.A).entry.soa.ttl == 5  # untouched


def test_all_servers_down_is_servfail_and_stale_data_can_answer_instead():
    clock = Clock()
    cache = Cache(clock)
    resolve("www.example.com.", cache=cache)
    clock.now = 100.0  # everything expired
    net = Internet()
    net.servers = {}
    result, _, _ = resolve("www.example.com.", cache=cache, net=net)
    assert result.rcode == dns.rcode.SERVFAIL
    stale = stale_answer(cache, dns.name.from_text("www.example.com."), dns.rdatatype.A, 30)
    assert stale.stale and stale.answer[0].ttl == 30 and stale.answer[0][0].address == "192.0.2.10"


class Poisoner(Internet):
    """example.com's server, turned evil: it adds records for names outside its zone."""

    def ask(self, server, qname, qtype):
        response = super().ask(server, qname, qtype)
        if server == "10.0.0.3" and response is not None:
            response.answer.append(dns.rrset.from_text("www.bank.net.", 86400, "IN", "A", "6.6.6.6"))
            response.authority.append(dns.rrset.from_text("net.", 86400, "IN", "NS", "ns.evil.example."))
            response.additional.append(dns.rrset.from_text("a.gtld-servers.net.", 86400, "IN", "A",
                                                           "6.6.6.6"))
        return response


def test_records_outside_the_answering_servers_zone_are_ignored():
    cache = Cache(Clock())
    result, _, res = resolve("www.example.com.", cache=cache, net=Poisoner())
    assert result.answer[0][0].address == "192.0.2.10"
    assert cache.get(dns.name.from_text("www.bank.net."), dns.rdatatype.A) is None
    assert cache.addresses(dns.name.from_text("a.gtld-servers.net.")) == ["10.0.0.2"]
    assert not any(rd.target == dns.name.from_text("ns.evil.example.")
                   for rd in cache.rrset(dns.name.from_text("net."), dns.rdatatype.NS) or [])


def test_a_referral_that_does_not_move_down_is_treated_as_lame():
    class Sideways(Internet):
        def ask(self, server, qname, qtype):
            if server == "10.0.0.2":
                self.log.append(f"{server} {qname}")
                response = dns.message.make_response(dns.message.make_query(qname, qtype))
                response.authority.append(dns.rrset.from_text("org.", 8, "IN", "NS", "x.org."))
                return response
            return super().ask(server, qname, qtype)

    result, _, _ = resolve("www.example.com.", net=Sideways())
    assert result.rcode == dns.rcode.SERVFAIL


def test_the_trace_events_name_each_referral():
    _, _, res = resolve("www.example.com.")
    # events are drained by the driver; in this synchronous loop they accumulate
    text = "\n".join(res.events)
    assert "referral to com." in text and "referral to example.com." in text
