"""The resolver's front door in-process: response rate limiting with slip, and the replies made
from a query's bytes (REFUSED, FORMERR, TC=1) or from a parsed query (NOTIMP, BADVERS).

Pure: a hand-moved clock, bytes in and out.  The same behaviours against the running
resolver, asked by dig and kdig, are in test_dns_resolver_peers.py.
"""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest

from learn_dns.recursive.policy import ResponseRateLimit, Verdict
from learn_dns.recursive.server import error_response, refuse, truncated

pytestmark = pytest.mark.pure

SEND, SLIP, DROP = Verdict.SEND, Verdict.SLIP, Verdict.DROP


def verdicts(rrl: ResponseRateLimit, count: int, now: float = 0.0) -> list[Verdict]:
    return [rrl.verdict("127.0.0.1", now) for _ in range(count)]


def test_rrl_is_off_by_default_and_then_answers_everything():
    assert not ResponseRateLimit(0).on
    assert set(verdicts(ResponseRateLimit(0), 10_000)) == {SEND}


def test_over_the_limit_every_slip_th_answer_slips_and_the_others_are_dropped():
    assert verdicts(ResponseRateLimit(1, burst=3, slip=2), 9) == [SEND] * 3 + [SLIP, DROP] * 3
    assert verdicts(ResponseRateLimit(1, burst=2, slip=3), 8) == [SEND] * 2 + [SLIP, DROP, DROP] * 2
    assert verdicts(ResponseRateLimit(1, burst=1, slip=1), 4) == [SEND, SLIP, SLIP, SLIP]
    assert verdicts(ResponseRateLimit(1, burst=1, slip=0), 4) == [SEND, DROP, DROP, DROP]


def test_the_bucket_refills_at_the_rate_and_clients_are_counted_apart():
    rrl = ResponseRateLimit(10, burst=2, slip=2)
    assert verdicts(rrl, 3, now=0.0) == [SEND, SEND, SLIP]
    assert rrl.verdict("127.0.0.2", 0.0) is SEND  # another address has its own bucket
    assert verdicts(rrl, 2, now=0.1) == [SEND, DROP]  # 0.1 s at 10/s: one more token


def query_wire(name: str = "www.example.com.", **kwargs: object) -> bytes:
    return dns.message.make_query(name, "A", **kwargs).to_wire()


def test_a_truncated_reply_carries_an_opt_record_when_the_query_had_one():
    reply = dns.message.from_wire(truncated(query_wire(use_edns=0, payload=512)))
    assert reply.flags & dns.flags.TC and not reply.answer
    assert reply.edns == 0 and reply.payload == 1232  # RFC 6891 §7
    assert dns.message.from_wire(truncated(query_wire())).edns == -1  # none asked, none sent


def test_a_refusal_from_bytes_echoes_the_question_and_the_opt():
    reply = dns.message.from_wire(refuse(query_wire("MiXeD.example.com.", use_edns=0), dns.rcode.REFUSED))
    assert reply.rcode() == dns.rcode.REFUSED and reply.edns == 0
    assert reply.question[0].name.to_text() == "MiXeD.example.com."


def test_a_question_name_over_255_octets_gets_formerr_without_the_question():
    plain = query_wire()
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 octets
    bad = plain[:12] + long_name + b"\x00\x01\x00\x01"
    wire = refuse(bad, dns.rcode.FORMERR)
    assert struct.unpack_from("!H", wire, 4)[0] == 0 and len(wire) == 12
    reply = dns.message.from_wire(wire)  # a client can read it
    assert reply.rcode() == dns.rcode.FORMERR and not reply.question


def test_badvers_and_notimp_from_a_parsed_query_carry_opt_version_0():
    query = dns.message.make_query("www.example.com.", "A", use_edns=1)
    reply = dns.message.from_wire(error_response(query, dns.rcode.BADVERS))
    assert reply.rcode() == dns.rcode.BADVERS and reply.edns == 0  # our highest version (RFC 6891 §6.1.3)
    query = dns.message.make_query("www.example.com.", "A", use_edns=0)
    query.set_opcode(dns.opcode.STATUS)
    reply = dns.message.from_wire(error_response(query, dns.rcode.NOTIMP))
    assert reply.rcode() == dns.rcode.NOTIMP and reply.edns == 0 and reply.question
