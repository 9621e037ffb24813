"""Differential tests: our codec and dnspython must read and write the same messages.

Every message of the corpus goes both ways: dnspython encodes, we decode; we
encode, dnspython decodes.  Messages are compared field by field through one
neutral form (header word, names and RDATA as uncompressed wire bytes,
EDNS fields), so the comparison owes nothing to either library's text output.
"""

from __future__ import annotations

import random

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from learn_dns.message import Message
from learn_dns.wire import FormatError
from tests.dns.test_dns_fuzz_codec import mutations

pytestmark = pytest.mark.differential

QUERY_CASES = [
    ("www.example.com.", "A", {}),
    ("WwW.ExAmPlE.CoM.", "AAAA", {"use_edns": 0, "payload": 4096}),
    ("example.com.", "MX", {"use_edns": 0, "want_dnssec": True}),
    ("example.com.", "ANY", {"use_edns": 0, "options": [dns.edns.GenericOption(10, b"\x01" * 8)]}),
    (".", "NS", {"use_edns": 0, "payload": 512, "options": [dns.edns.GenericOption(12, b"\0" * 20),
                                                            dns.edns.GenericOption(65001, b"")]}),
    ("a\\.b.\\000\\255.example.", "TXT", {}),
    ("example.com.", "AXFR", {}),
    ("x." * 60 + "com.", "TYPE65280", {}),
]

RECORDS = [
    ("www.example.com.", "A", ["192.0.2.10", "192.0.2.11"]),
    ("www.example.com.", "AAAA", ["2001:db8::10", "::1"]),
    ("example.com.", "NS", ["ns1.example.com.", "ns2.example.com.", "ns1.newdns.net."]),
    ("ftp.example.com.", "CNAME", ["www.example.com."]),
    ("example.com.", "SOA", ["ns1.example.com. hostmaster.example.com. 2026112101 3 1 600 4"]),
    ("example.com.", "MX", ["10 mail.example.com.", "20 MAIL.example.NET."]),
    ("example.com.", "TXT", ['"v=spf1 -all"', '"two" "strings"', '""', '"quote \\" and \\\\ and \\255"']),
    ("_validation-persist.example.com.", "TXT",
     ['"letsencrypt.org; accounturi=https://acme.example/acct/123"']),
    ("10.2.0.192.in-addr.arpa.", "PTR", ["www.example.com."]),
    ("_sip._tcp.example.com.", "SRV", ["10 60 5060 sip.example.com."]),          # kept opaque by us
    ("example.com.", "CAA", ['0 issue "letsencrypt.org"']),                      # kept opaque by us
    ("example.com.", "TYPE65280", ["\\# 3 010203"]),                             # unknown: RFC 3597
]


def rrset(name: str, rtype: str, values: list[str], ttl: int = 5) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, "IN", rtype, values)


def response_cases() -> list[dns.message.Message]:
    cases = []
    query = dns.message.make_query("www.example.com.", "A", use_edns=0, want_dnssec=True)
    full = dns.message.make_response(query)
    full.flags |= dns.flags.AA
    for i, (name, rtype, values) in enumerate(RECORDS):
        section = (full.answer, full.authority, full.additional)[i % 3]
        section.append(rrset(name, rtype, values, ttl=i + 1))
    cases.append(full)
    nx = dns.message.make_response(dns.message.make_query("nope.example.com.", "A"))
    nx.set_rcode(dns.rcode.NXDOMAIN)
    nx.authority.append(rrset("example.com.", "SOA", RECORDS[4][2], ttl=4))
    cases.append(nx)
    badvers = dns.message.make_response(dns.message.make_query("example.com.", "A", use_edns=0))
    badvers.set_rcode(dns.rcode.BADVERS)
    cases.append(badvers)
    referral = dns.message.make_response(dns.message.make_query("www.example.com.", "A", use_edns=0))
    referral.authority.append(rrset("example.com.", "NS", ["ns1.example.com.", "ns2.example.com."], 8))
    referral.additional.append(rrset("ns1.example.com.", "A", ["127.53.0.3"], 8))
    referral.additional.append(rrset("ns2.example.com.", "A", ["127.53.0.4"], 8))
    cases.append(referral)
    many = dns.message.make_response(dns.message.make_query("big.example.com.", "TXT"))
    texts = [f'"record {i:02d} padding padding"' for i in range(40)]
    many.answer.append(rrset("big.example.com.", "TXT", texts))
    cases.append(many)
    notify = dns.message.make_query("example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    notify.flags = (notify.flags | dns.flags.AA) & ~dns.flags.RD
    cases.append(notify)
    return cases


def corpus() -> list[tuple[str, dns.message.Message]]:
    cases = [(f"query {q} {t}", dns.message.make_query(q, t, **kw)) for q, t, kw in QUERY_CASES]
    cases += [(f"response {i}", m) for i, m in enumerate(response_cases())]
    return cases


CORPUS = corpus()
IDS = [name for name, _ in CORPUS]


def neutral_from_dnspython(m: dns.message.Message) -> dict:
    def section(rrsets):
        return [(rs.name.to_wire(), rs.rdtype, rs.rdclass, rs.ttl, rd.to_wire())
                for rs in rrsets for rd in rs]
    return {
        "id": m.id, "flags": m.flags & 0xFFFF & ~0xF | (m.rcode() & 0xF), "rcode": m.rcode(),
        "opcode": m.opcode(),
        "question": [(rs.name.to_wire(), rs.rdtype, rs.rdclass) for rs in m.question],
        "answer": section(m.answer), "authority": section(m.authority), "additional": section(m.additional),
        "edns": None if m.edns < 0 else (m.payload, m.edns, m.ednsflags & 0xFFFF,
                                         [(o.otype, o.to_wire()) for o in m.options]),
    }


def neutral_from_ours(m: Message) -> dict:
    def section(rrs):
        out = []
        for rr in rrs:
            rdata = bytearray()
            rr.rdata.to_wire(rdata, None)
            out.append((rr.name.to_wire(), rr.rtype, rr.rclass, rr.ttl, bytes(rdata)))
        return out
    e = m.edns
    return {
        "id": m.header.id, "flags": m.header.flags_word(), "rcode": m.rcode, "opcode": m.header.opcode,
        "question": [(q.name.to_wire(), q.qtype, q.qclass) for q in m.questions],
        "answer": section(m.answers), "authority": section(m.authority), "additional": section(m.additional),
        "edns": None if e is None else (e.payload, e.version, (0x8000 if e.do else 0) | e.z,
                                        [(code, data) for code, data in e.options]),
    }


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_we_decode_what_dnspython_encodes(case):
    _, theirs = case
    wire = theirs.to_wire()
    assert neutral_from_ours(Message.from_wire(wire)) == neutral_from_dnspython(dns.message.from_wire(wire))


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_dnspython_decodes_what_we_encode(case):
    _, theirs = case
    ours = Message.from_wire(theirs.to_wire())
    for compress in (True, False):
        wire = ours.to_wire(compress=compress)
        assert neutral_from_dnspython(dns.message.from_wire(wire)) == neutral_from_ours(ours)


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_our_compression_is_as_tight_as_dnspythons(case):
    _, theirs = case
    ours = Message.from_wire(theirs.to_wire())
    # dnspython does not compress inside SRV (RFC 2782): neither do we, so sizes agree exactly.
    assert len(ours.to_wire()) == len(theirs.to_wire())


def test_a_truncated_answer_is_what_dnspython_expects_of_tc():
    big = next(m for _, m in CORPUS if m.answer and m.answer[0].name.to_text() == "big.example.com.")
    ours = Message.from_wire(big.to_wire())
    wire = ours.to_wire(limit=512)
    assert len(wire) <= 512
    theirs = dns.message.from_wire(wire)
    assert theirs.flags & dns.flags.TC and not theirs.answer
    assert theirs.question[0].name == dns.name.from_text("big.example.com.")
    with pytest.raises(dns.message.Truncated):
        dns.message.from_wire(wire, raise_on_truncation=True)


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_rdata_text_matches_dnspython_for_the_types_we_model(case):
    wire = case[1].to_wire()
    theirs, ours = dns.message.from_wire(wire), Message.from_wire(wire)
    modelled = {"A", "AAAA", "NS", "CNAME", "SOA", "MX", "TXT", "PTR"}
    for rrset_, rr_list in ((theirs.answer, ours.answers), (theirs.authority, ours.authority),
                            (theirs.additional, ours.additional)):
        texts = [rd.to_text() for rs in rrset_ for rd in rs if dns.rdatatype.to_text(rs.rdtype) in modelled]
        mine = [rr.rdata.to_text() for rr in rr_list if type(rr.rdata).__name__ in modelled]
        assert mine == texts


def test_dnspython_rejects_what_we_reject_for_our_record_types():
    """For packets of the types we model, a FormatError of ours is a rejection by dnspython too."""
    rng = random.Random(1034)
    disagreements = []
    for packet in mutations(rng, 5_000):
        try:
            Message.from_wire(packet)
            continue
        except FormatError as exc:
            ours = exc
        try:
            dns.message.from_wire(packet)
        except Exception:  # noqa: BLE001 - any rejection counts
            continue
        disagreements.append((packet.hex(), str(ours)))
    assert disagreements == []
