"""The resolver's cache on a hand-moved clock: TTLs, trust ranks, negative caching, serve-stale,
and the wire-bytes answer cache of the hot path."""

from __future__ import annotations

import struct

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from learn_dns.recursive.cache import AnswerCache, Cache, Rank, question_end, question_key, ttl_offsets

pytestmark = pytest.mark.pure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def a(name: str, ttl: int, *addresses: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(name, ttl, "IN", "A", *addresses)


def soa(ttl: int, minimum: int) -> dns.rrset.RRset:
    return dns.rrset.from_text("example.com.", ttl, "IN", "SOA",
                               f"ns1.example.com. h.example.com. 1 3 1 600 {minimum}")


WWW = dns.name.from_text("www.example.com.")


def test_an_rrset_is_served_until_its_ttl_runs_out_with_the_ttl_counting_down():
    clock = Clock()
    cache = Cache(clock)
    cache.put(a("www.example.com.", 5, "192.0.2.10"), Rank.ANSWER)
    clock.now += 2
    assert cache.rrset(WWW, dns.rdatatype.A).ttl == 3
    clock.now += 3.5
    assert cache.get(WWW, dns.rdatatype.A) is None


def test_glue_does_not_replace_a_fresh_authoritative_answer():
    clock = Clock()
    cache = Cache(clock)
    cache.put(a("ns1.example.com.", 8, "127.53.0.3"), Rank.ANSWER)
    assert not cache.put(a("ns1.example.com.", 8, "6.6.6.6"), Rank.GLUE)
    assert cache.addresses(dns.name.from_text("ns1.example.com.")) == ["127.53.0.3"]


def test_nxdomain_is_cached_for_the_soa_minimum_and_covers_every_type():
    clock = Clock()
    cache = Cache(clock)
    name = dns.name.from_text("nope.example.com.")
    assert cache.put_negative(name, dns.rdatatype.A, dns.rcode.NXDOMAIN, soa(5, 4)) == 4
    hit = cache.get(name, dns.rdatatype.MX)
    assert hit is not None and hit.negative and hit.entry.rcode == dns.rcode.NXDOMAIN
    clock.now += 4.1
    assert cache.get(name, dns.rdatatype.A) is None


def test_nodata_is_cached_for_one_type_only():
    cache = Cache(Clock())
    cache.put_negative(WWW, dns.rdatatype.MX, dns.rcode.NOERROR, soa(3, 10))
    assert cache.get(WWW, dns.rdatatype.MX).negative
    assert cache.get(WWW, dns.rdatatype.A) is None


def test_a_negative_answer_without_soa_is_not_cached():
    cache = Cache(Clock())
    assert cache.put_negative(WWW, dns.rdatatype.A, dns.rcode.NXDOMAIN, None) == 0
    assert len(cache) == 0


def test_expired_data_is_only_served_when_stale_is_asked_for_and_within_max_stale():
    clock = Clock()
    cache = Cache(clock, max_stale=10)
    cache.put(a("www.example.com.", 5, "192.0.2.10"), Rank.ANSWER)
    clock.now += 8
    assert cache.get(WWW, dns.rdatatype.A) is None
    hit = cache.get(WWW, dns.rdatatype.A, stale=True)
    assert hit is not None and hit.stale
    clock.now += 10
    assert cache.get(WWW, dns.rdatatype.A, stale=True) is None
    assert cache.purge() == 1


def test_closest_delegation_walks_up_to_the_deepest_cached_cut():
    cache = Cache(Clock())
    cache.put(dns.rrset.from_text("com.", 8, "IN", "NS", "a.gtld-servers.net."), Rank.REFERRAL)
    found = cache.closest_delegation(dns.name.from_text("www.example.com."))
    assert found.name == dns.name.from_text("com.")
    assert cache.closest_delegation(dns.name.from_text("www.example.org.")) is None


def response_wire(ttl: int = 5) -> bytes:
    query = dns.message.make_query("www.example.com.", "A", id=7)
    response = dns.message.make_response(query)
    response.answer.append(a("www.example.com.", ttl, "192.0.2.10", "192.0.2.11"))
    response.authority.append(dns.rrset.from_text("example.com.", 8, "IN", "NS", "ns1.example.com."))
    return response.to_wire()


def test_ttl_offsets_find_every_ttl_field_through_compressed_names():
    wire = response_wire()
    offsets = ttl_offsets(wire)
    assert [ttl for _off, ttl in offsets] == [5, 5, 8]
    for offset, ttl in offsets:
        assert struct.unpack_from("!I", wire, offset)[0] == ttl


def test_a_wire_cache_hit_patches_the_id_and_rd_and_counts_the_ttls_down():
    clock = Clock()
    answers = AnswerCache(clock)
    answers.put(b"key", response_wire())
    clock.now += 2
    query = dns.message.make_query("www.example.com.", "A", id=0xBEEF).to_wire()
    name_end = question_key(query)[1] - 4
    hit = answers.get(b"key", query, name_end)
    message = dns.message.from_wire(hit)
    assert message.id == 0xBEEF and message.flags & dns.flags.RD
    assert message.answer[0].ttl == 3 and message.authority[0].ttl == 6
    clock.now += 3
    assert answers.get(b"key", query, name_end) is None  # gone with the smallest TTL


def test_a_wire_cache_hit_echoes_the_question_in_the_askers_own_letter_case():
    answers = AnswerCache(Clock())
    first = dns.message.make_query("www.example.com.", "A").to_wire()
    answers.put(question_key(first)[0], response_wire())
    query = dns.message.make_query("wWw.ExAmPlE.cOm.", "A", id=9).to_wire()
    key, end = question_key(query)
    message = dns.message.from_wire(answers.get(key, query, end - 4))
    assert message.question[0].name.to_text() == "wWw.ExAmPlE.cOm."  # RFC 1035 §7.3, 0x20
    assert message.id == 9 and {r.address for r in message.answer[0]} == {"192.0.2.10", "192.0.2.11"}


def test_question_key_ignores_case_and_id_but_not_type():
    upper = dns.message.make_query("WWW.Example.COM.", "A", id=1).to_wire()
    lower = dns.message.make_query("www.example.com.", "A", id=2).to_wire()
    aaaa = dns.message.make_query("www.example.com.", "AAAA", id=2).to_wire()
    assert question_key(upper)[0] == question_key(lower)[0] != question_key(aaaa)[0]
    with_edns = dns.message.make_query("www.example.com.", "A", use_edns=0).to_wire()
    assert question_key(with_edns)[0] != question_key(lower)[0]
    assert question_key(b"\x00" * 5) is None


def with_opt(query: bytes, ttl_field: int, rdata: bytes = b"") -> bytes:
    """``query`` (no additional records) plus one OPT record with this TTL field and RDATA."""
    head = query[:10] + b"\x00\x01" + query[12:]
    return head + b"\x00\x00\x29\x04\xd0" + struct.pack("!IH", ttl_field, len(rdata)) + rdata


def test_question_key_takes_only_plain_queries_the_rest_goes_to_the_slow_path():
    plain = dns.message.make_query("www.example.com.", "A").to_wire()
    assert question_key(with_opt(plain, 0))[0].endswith(b"E")
    assert question_key(with_opt(plain, 0, b"\x00\x0a\x00\x02ab"))  # a cookie-like option
    assert question_key(with_opt(plain, 1 << 16)) is None  # EDNS version 1: BADVERS, never the cache
    assert question_key(with_opt(plain, 0, b"\x00\x0a\x00\x09ab")) is None  # option past RDATA
    assert question_key(plain + b"junk") is None
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 octets
    assert question_key(plain[:12] + long_name + b"\x00\x01\x00\x01") is None
    assert question_end(plain[:12] + long_name + b"\x00\x01\x00\x01") is None
    just_255 = b"".join(b"\x3f" + b"a" * 63 for _ in range(3)) + b"\x3d" + b"a" * 61 + b"\x00"
    assert len(just_255) == 255 and question_end(plain[:12] + just_255 + b"\x00\x01\x00\x01")
