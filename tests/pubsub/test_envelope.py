"""The envelope codec, without Redis: exact bytes in, exact errors out."""

from __future__ import annotations

import json

import pytest

from learn_pubsub.envelope import Envelope, EnvelopeError, decode, encode, make_envelope, sequential_ids

pytestmark = pytest.mark.pure


def fixed_clock() -> float:
    return 1767225600.0


def test_make_envelope_takes_its_id_and_time_from_the_injected_sources():
    ids = sequential_ids("pub")
    first = make_envelope("orders.created", {"order": 42}, id_source=ids, clock=fixed_clock)
    second = make_envelope("orders.created", None, id_source=ids, clock=fixed_clock)
    assert first == Envelope("pub-1", "orders.created", 1767225600.0, {"order": 42})
    assert second.id == "pub-2"


def test_encoding_is_compact_json_with_sorted_keys():
    envelope = Envelope("pub-1", "orders.created", 1767225600.0, {"order": 42})
    assert encode(envelope) == (
        '{"id":"pub-1","payload":{"order":42},"timestamp":1767225600.0,"topic":"orders.created"}')


def test_decode_reverses_encode_for_any_json_payload():
    for payload in ({"a": [1, 2.5, None, True]}, [1, 2], "text", 7, None, "ünïcödé"):
        envelope = Envelope("x-1", "t", 1.5, payload)
        assert decode(encode(envelope)) == envelope
        assert decode(encode(envelope).encode()) == envelope


def test_decode_ignores_unknown_fields_so_publishers_can_add_some():
    data = json.dumps({"id": "a", "topic": "t", "timestamp": 0, "payload": 1, "version": 2})
    assert decode(data) == Envelope("a", "t", 0, 1)


def test_decode_checks_the_topic_against_the_channel_it_arrived_on():
    data = encode(Envelope("a", "orders.paid", 0, 1))
    assert decode(data, channel="orders.paid").topic == "orders.paid"
    with pytest.raises(EnvelopeError, match="topic 'orders.paid' does not match channel 'orders.created'"):
        decode(data, channel="orders.created")


@pytest.mark.parametrize(("data", "problem"), [
    (b"\xff\xfe", "not UTF-8 text"),
    ("oops", "not JSON"),
    ("", "not JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('"text"', "expected a JSON object, got str"),
    ('{"id": "a"}', "missing field(s): topic, timestamp, payload"),
    ('{"id": "", "topic": "t", "timestamp": 0, "payload": 1}', "id must be a non-empty string"),
    ('{"id": 7, "topic": "t", "timestamp": 0, "payload": 1}', "id must be a non-empty string"),
    ('{"id": "a", "topic": "has space", "timestamp": 0, "payload": 1}', "topic must be"),
    ('{"id": "a", "topic": "", "timestamp": 0, "payload": 1}', "topic must be"),
    ('{"id": "a", "topic": "t", "timestamp": "now", "payload": 1}', "timestamp must be"),
    ('{"id": "a", "topic": "t", "timestamp": true, "payload": 1}', "timestamp must be"),
    ('{"id": "a", "topic": "t", "timestamp": -1, "payload": 1}', "timestamp must be"),
    ('{"id": "a", "topic": "t", "timestamp": NaN, "payload": 1}', "timestamp must be"),
])
def test_decode_rejects_an_invalid_message_and_names_the_problem(data, problem):
    with pytest.raises(EnvelopeError) as caught:
        decode(data)
    assert problem in str(caught.value)


def test_an_envelope_error_is_a_value_error():
    assert issubclass(EnvelopeError, ValueError)


def test_publisher_side_refuses_what_a_subscriber_would_reject():
    with pytest.raises(EnvelopeError, match="topic must be"):
        make_envelope("two words", 1, id_source=sequential_ids("p"), clock=fixed_clock)
    with pytest.raises(EnvelopeError, match="not JSON-serialisable"):
        encode(Envelope("a", "t", 0, {1, 2}))
    with pytest.raises(EnvelopeError, match="not JSON-serialisable"):
        encode(Envelope("a", "t", 0, float("nan")))
