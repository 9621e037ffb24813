"""The wire cache against the plain path: the same bytes for every message (a differential test, no I/O).

``nameserver.AuthoritativeServer.answer`` is the lesson; ``wire_cache.CachedAnswers``
is the benchmark's shortcut in front of it.  Whatever comes in (letter case,
flags, EDNS sizes and DO, repetitions, malformed packets, NOTIFY, zone
transfers) the shortcut must send exactly what the lesson sends.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import pytest

import learn_dns
from learn_dns.nameserver import AuthoritativeServer
from learn_dns.wire_cache import CachedAnswers
from learn_dns.zone_data import load_zone_file
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.pure

ZONES = Path(learn_dns.__file__).parent / "zones"
NAMES = ["www.example.com", "ftp.example.com", "nope.example.com", "big.example.com", "example.com",
         "www.example.org", "mail.example.com", "deep.www.example.com", "com", "."]
TYPES = ["A", "AAAA", "TXT", "MX", "NS", "SOA", "CNAME", "TYPE65", "ANY"]
EDNS = [{}, {"use_edns": 0}, {"use_edns": 0, "payload": 512}, {"use_edns": 0, "payload": 1232},
        {"use_edns": 0, "want_dnssec": True, "payload": 4096}, {"use_edns": 1}]


def make_server() -> AuthoritativeServer:
    server = AuthoritativeServer([], [], Trace("t", stream=io.StringIO()), False, lambda: 0)
    for name in ("root.zone", "com.zone", "net.zone", "example.com.zone"):
        server.install(load_zone_file(ZONES / name))
    return server


def random_query(rng: random.Random) -> bytes:
    name = "".join(c.upper() if rng.random() < 0.5 else c for c in rng.choice(NAMES))
    query = dns.message.make_query(name, rng.choice(TYPES), **rng.choice(EDNS))
    query.flags = rng.choice([0, dns.flags.RD, dns.flags.RD | dns.flags.CD, dns.flags.AD])
    query.id = rng.randrange(65536)
    return query.to_wire()


def mangle(rng: random.Random, packet: bytes) -> bytes:
    """A query cut short, with bytes flipped, counts changed, bytes appended, or random bytes."""
    data = bytearray(packet)
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(data[:rng.randrange(len(data))])
    if kind == 1:
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 2:
        data[rng.choice([5, 7, 9, 11])] = rng.randrange(4)
    elif kind == 3:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    else:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    return bytes(data)


@pytest.mark.parametrize("levels", ["fast", "question"])
def test_cached_answers_are_the_plain_paths_bytes(levels):
    plain, fast_server = make_server(), make_server()
    fast = CachedAnswers(fast_server, levels)
    rng = random.Random(19)
    asked = []
    folded_hits = 0
    for i in range(6000):
        if asked and rng.random() < 0.3:
            data = rng.choice(asked)  # a repetition: a cache hit this time
        else:
            data = random_query(rng)
            asked.append(data)
        if rng.random() < 0.25:
            data = mangle(rng, data)
        tcp = rng.random() < 0.2
        expected = plain.answer(data, ("127.0.0.1", 1000), tcp)
        # The folded level, as the UDP driver asks it, before the answerer fills it for this packet:
        # a hit comes from an earlier query in another letter case or with another ID.
        folded = fast.fast(data) if not tcp and fast.fast is not None else None
        if folded is not None:
            folded_hits += 1
            assert [folded] == expected, (i, data.hex())
        assert fast.answer(data, ("127.0.0.1", 1000), tcp) == expected, (i, data.hex())
    assert fast.cache.entries  # the shortcut was really taken
    assert bool(fast.cache.folded) == (levels == "fast")
    assert (folded_hits > 500) == (levels == "fast")


def test_the_folded_level_answers_every_case_of_the_name_and_only_of_the_name():
    plain, fast = make_server(), CachedAnswers(make_server())
    query = dns.message.make_query("www.example.com", "A", use_edns=0, payload=1232)
    query.id = 7
    fast.answer(query.to_wire(), ("127.0.0.1", 1), False)
    for name, rdtype in (("WWW.example.COM", "A"), ("wWw.ExAmPlE.cOm", "A"), ("www.example.com", "A")):
        ask = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        ask.id = 4242
        wire = ask.to_wire()
        answer = fast.fast(wire)
        assert answer is not None and [answer] == plain.answer(wire, ("127.0.0.1", 1), False)
        assert answer[12:12 + 17] == wire[12:12 + 17]  # the QNAME echoed as asked (dns-0x20)
    other = dns.message.make_query("www.example.com", "A", use_edns=0, payload=512)  # another OPT
    assert fast.fast(other.to_wire()) is None
    recursive = dns.message.make_query("www.example.com", "A", use_edns=0, payload=1232)
    recursive.flags = 0  # RD clear: another header
    assert fast.fast(recursive.to_wire()) is None


def test_the_cache_is_emptied_when_a_zone_changes():
    server = make_server()
    fast = CachedAnswers(server)
    query = dns.message.make_query("www.example.com", "A").to_wire()
    fast.answer(query, ("127.0.0.1", 1), False)
    assert fast.cache.entries and fast.cache.folded
    server.install(load_zone_file(ZONES / "example.com.zone"))
    assert not fast.cache.entries and not fast.cache.folded


def test_notify_and_zone_transfers_take_the_plain_path():
    plain, fast_server = make_server(), make_server()
    fast = CachedAnswers(fast_server)
    notify = dns.message.make_query("example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    axfr = dns.message.make_query("example.com.", "AXFR")
    for data, tcp in ((notify.to_wire(), False), (axfr.to_wire(), True), (axfr.to_wire(), False)):
        assert fast.answer(data, ("127.0.0.9", 1), tcp) == plain.answer(data, ("127.0.0.9", 1), tcp)
    assert not fast.cache.entries
