"""recursive/fast.py against the lesson's hot path: the same bytes, or no answer at all.

Pure: a hand-moved clock, bytes in and out.  Every query (names in random
letter case, flags, EDNS sizes, malformed packets, allowed and refused
sources, time passing so that TTLs count down and answers expire) is first
put to :class:`FoldedAnswers` (which asks the lesson's hot path itself
when it has no fresh copy); whenever it answers, the lesson's
``ResolverService.fast_answer`` must give the very same bytes at that moment.
"""

from __future__ import annotations

import io
import ipaddress
import random

import dns.flags
import dns.message
import dns.rrset
import pytest

from learn_dns.recursive.cache import AnswerCache, question_key
from learn_dns.recursive.fast import FoldedAnswers
from learn_dns.recursive.policy import AllowList, ResponseRateLimit
from learn_dns.recursive.server import ResolverService
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.pure

NAMES = {"www.example.com.": 5, "mail.example.com.": 30, "h0001.example.com.": 3600, "example.com.": 2}
EDNS = [{}, {"use_edns": 0}, {"use_edns": 0, "payload": 512}, {"use_edns": 0, "want_dnssec": True}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def response_for(query: dns.message.Message, ttl: int) -> bytes:
    response = dns.message.make_response(query, recursion_available=True)
    response.answer.append(dns.rrset.from_text(query.question[0].name, ttl, "IN", "A", "192.0.2.1"))
    return response.to_wire(max_size=65535)


def service_and_fast() -> tuple[ResolverService, FoldedAnswers, Clock]:
    clock = Clock()
    allow = AllowList(["127.0.0.0/8"])
    service = ResolverService(None, AnswerCache(clock), allow, ResponseRateLimit(0),  # type: ignore[arg-type]
                              Trace("t", stream=io.StringIO()), clock, log_queries=False)
    service.folded = FoldedAnswers(clock, allow, service.answers,
                                   lambda data, client: service.fast_answer(data, client, udp=True)[0])
    return service, service.folded, clock


def test_the_folded_copy_is_what_the_lessons_hot_path_sends_at_that_moment():
    service, fast, clock = service_and_fast()
    rng = random.Random(53)
    hits = 0
    for i in range(6000):
        clock.now += rng.random() * 0.01  # 30 s in all: every TTL above counts down, some expire
        name = rng.choice(list(NAMES))
        spelled = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
        query = dns.message.make_query(spelled, "A", **rng.choice(EDNS))
        query.flags = rng.choice([dns.flags.RD, dns.flags.RD | dns.flags.CD, 0])
        query.id = rng.randrange(65536)
        data = bytearray(query.to_wire())
        if rng.random() < 0.1:
            data[rng.randrange(2, len(data))] = rng.randrange(256)
        data = bytes(data)
        client = rng.choice(["127.0.0.1", "127.9.9.9", "192.0.2.77"])
        copy = fast.answer(data, ipaddress.ip_address(client).packed)
        lesson, _limit = service.fast_answer(data, client, udp=True)
        if copy is not None:
            hits += 1
            assert copy == lesson, (i, data.hex())
        if lesson is None:  # the slow path's part, done by hand: the answer enters the cache
            key = question_key(data)
            if key is not None and data[2] & 0x01:
                service.answers.put(key[0], response_for(dns.message.from_wire(data), NAMES[name]))
    assert hits > 2000 and fast.hits > 1500  # answers, and among them copies


def test_no_copy_for_a_refused_client_with_rrl_or_when_queries_are_logged():
    service, fast, clock = service_and_fast()
    query = dns.message.make_query("www.example.com.", "A")
    data = query.to_wire()
    service.answers.put(question_key(data)[0], response_for(query, 5))
    assert service.fast_answer(data, "127.0.0.1", udp=True)[0]
    assert fast.answer(data, bytes([127, 0, 0, 1])) is not None
    refused = fast.answer(data, bytes([192, 0, 2, 1]))  # outside --allow: the lesson's REFUSED, not a copy
    assert refused == service.fast_answer(data, "192.0.2.1", udp=True)[0] and refused[3] & 0xF == 5
    clock.now += 6
    assert fast.answer(data, bytes([127, 0, 0, 1])) is None  # expired with its TTL
    for change in ("rrl", "log"):
        service, fast, clock = service_and_fast()
        if change == "rrl":
            service.rrl = ResponseRateLimit(100)
        else:
            service.log_queries = True
        service.answers.put(question_key(data)[0], response_for(query, 5))
        assert service.fast_answer(data, "127.0.0.1", udp=True)[0]
        assert not fast.entries
