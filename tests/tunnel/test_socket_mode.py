"""Socket Mode's dispatcher with an injected clock: turns, limits, deadlines, redelivery, acks by id."""

from __future__ import annotations

import pytest

from learn_tunnel.socket_mode import Dispatcher

pytestmark = pytest.mark.pure


def ids(pairs):
    return [(c, e.envelope_id) for c, e in pairs]


def test_envelopes_go_to_the_connections_in_turn_within_their_limit():
    d = Dispatcher(max_in_flight=2)
    d.connect("a")
    d.connect("b")
    for n in range(5):
        d.publish({"n": n})
    assert ids(d.deliveries(now=0)) == [("a", "e-1"), ("b", "e-2"), ("a", "e-3"), ("b", "e-4")]
    assert list(d.deliveries(now=0)) == []  # both full: e-5 waits
    assert d.ack("a", "e-1")
    assert ids(d.deliveries(now=0)) == [("a", "e-5")]


def test_an_envelope_not_acknowledged_in_time_is_sent_again_with_the_reason():
    d = Dispatcher(ack_deadline=3)
    d.connect("a")
    d.publish({})
    list(d.deliveries(now=0))
    assert d.expire(now=2.9) == []
    [late] = d.expire(now=3)
    assert late.envelope_id == "e-1"
    [(_, again)] = d.deliveries(now=3)
    assert again.message()["retry_attempt"] == 1 and again.message()["retry_reason"] == "timeout"
    assert again.envelope_id == "e-1"  # the same id: that is what makes processing idempotent


def test_a_closed_connection_gives_back_what_it_had_not_acknowledged():
    d = Dispatcher()
    d.connect("a")
    d.connect("b")
    d.publish({})
    d.publish({})
    list(d.deliveries(now=0))
    assert [e.envelope_id for e in d.disconnect("a")] == ["e-1"]
    [(connection, envelope)] = d.deliveries(now=1)
    assert (connection, envelope.envelope_id, envelope.retry_reason) == ("b", "e-1", "connection_closed")


def test_a_late_ack_from_the_first_connection_still_settles_the_envelope():
    d = Dispatcher(ack_deadline=1)
    d.connect("a")
    d.connect("b")
    d.publish({})
    list(d.deliveries(now=0))  # to a
    d.expire(now=1)
    list(d.deliveries(now=1))  # again, to b
    assert d.ack("a", "e-1")  # a finished it after all
    assert not d.ack("b", "e-1")  # b's ack is the second: nothing left to settle
    assert d.in_flight == {} and not d.queue and d.acked == 1


def test_nothing_is_sent_without_a_connection_and_nothing_is_lost():
    d = Dispatcher()
    d.publish({"text": "early"})
    assert list(d.deliveries(now=0)) == []
    d.connect("a")
    assert ids(d.deliveries(now=0)) == [("a", "e-1")]
