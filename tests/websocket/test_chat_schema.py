"""Tests of the chat's pure parts: the message schema and the backoff schedule.

No I/O: the schema is plain functions, and the backoff takes its random generator
as a parameter.  The hub's rules are in test_chat_hub.py (in-memory members).
"""

from __future__ import annotations

import json
import random

import pytest

from learn_websocket.chat import schema
from learn_websocket.chat.client import backoff_delay, with_token
from learn_websocket.chat.schema import Join, Leave, Say, SchemaError, parse_client_message

pytestmark = pytest.mark.pure

# --- schema -----------------------------------------------------------------------------

def test_parses_the_three_client_messages():
    assert parse_client_message('{"type":"join","room":"lobby"}') == Join("lobby")
    assert parse_client_message('{"type":"leave","room":"a_b-9"}') == Leave("a_b-9")
    assert parse_client_message('{"type":"say","room":"lobby","text":"hi"}') == Say("lobby", "hi")


def test_client_messages_round_trip_through_json():
    for message in (Join("r"), Leave("r"), Say("r", "héllo 💬")):
        assert parse_client_message(schema.encode(schema.client_message(message))) == message


@pytest.mark.parametrize(("raw", "code", "fragment"), [
    ("not json", "bad_json", "not JSON"),
    ("[]", "bad_json", "expected a JSON object, got list"),
    (b'{"type":"join","room":"x"}', "bad_json", "binary frame"),
    ('{"room":"lobby"}', "bad_message", "type must be one of join, leave, say; got None"),
    ('{"type":"shout","room":"lobby"}', "bad_message", "got 'shout'"),
    ('{"type":["say"],"room":"lobby"}', "bad_message", "got ['say']"),
    ('{"type":"say","room":"lobby"}', "bad_message", "say: missing field(s) text"),
    ('{"type":"say","room":"lobby","txt":"hi"}', "bad_message", "missing field(s) text"),
    ('{"type":"join","room":"lobby","x":1}', "bad_message", "unknown field(s) x"),
    ('{"type":"join","room":"Lobby"}', "bad_message", "room must match"),
    ('{"type":"join","room":""}', "bad_message", "room must match"),
    ('{"type":"join","room":7}', "bad_message", "room must match"),
    ('{"type":"join","room":"' + "r" * 33 + '"}', "bad_message", "room must match"),
    ('{"type":"say","room":"lobby","text":""}', "bad_message", "1..2000 characters; got 0"),
    ('{"type":"say","room":"lobby","text":5}', "bad_message", "text must be a string; got int"),
])
def test_invalid_messages_raise_schema_error_with_a_clear_detail(raw, code, fragment):
    with pytest.raises(SchemaError) as info:
        parse_client_message(raw)
    assert info.value.code == code
    assert fragment in info.value.detail


def test_text_limit_counts_characters_not_bytes():
    assert parse_client_message(json.dumps({"type": "say", "room": "r", "text": "💬" * 2000})).text
    with pytest.raises(SchemaError):
        parse_client_message(json.dumps({"type": "say", "room": "r", "text": "a" * 2001}))


def test_server_messages_have_the_documented_fields():
    assert schema.welcome("alice", "s1") == {"type": "welcome", "user": "alice", "server": "s1"}
    assert schema.message("lobby", "bob", "hi", "s2-7", "s2") == {
        "type": "message", "room": "lobby", "from": "bob", "text": "hi", "id": "s2-7", "server": "s2"}
    assert schema.error("bad_json", "x") == {"type": "error", "code": "bad_json", "detail": "x"}
    assert set(schema.ERROR_CODES) == {"bad_json", "bad_message", "not_in_room", "unavailable"}


# --- backoff ----------------------------------------------------------------------------

def test_backoff_is_full_jitter_under_a_doubling_ceiling():
    rng = random.Random(42)
    delays = [backoff_delay(n, 0.1, 1.0, rng) for n in range(8)]
    expected_rng = random.Random(42)
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert delays == [expected_rng.uniform(0, c) for c in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_backoff_with_a_fixed_rng_is_exactly_the_ceiling():
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [backoff_delay(n, 0.5, 5.0, Top()) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_token_goes_into_the_query_string():
    assert with_token("ws://h:1/ws", "a b") == "ws://h:1/ws?token=a+b"
    assert with_token("ws://h:1/ws?x=1&token=old", "new") == "ws://h:1/ws?x=1&token=new"
