"""Tests of the chat's pure parts: the message schema, the backoff schedule, the hub's rules.

No sockets and no processes: the schema is plain functions, the backoff takes its
random generator as a parameter, and the hub is driven with in-memory members.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from learn_websocket.chat import schema
from learn_websocket.chat.client import backoff_delay, with_token
from learn_websocket.chat.hub import GOING_AWAY, SLOW_CONSUMER, Hub
from learn_websocket.chat.schema import Join, Leave, Say, SchemaError, parse_client_message

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


# --- hub, with in-memory members ---------------------------------------------------------

class FakeSocket:
    """Records what the hub sends; ``stuck`` makes every send wait forever (a slow reader)."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.stuck = stuck

    async def send(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def connect(hub: Hub, user: str, sock: FakeSocket):
    return hub.connect(user, f"test:{user}", sock.send, sock.close)


async def test_a_slow_member_is_kicked_with_4008_and_the_room_keeps_flowing():
    hub = Hub("s1", queue_size=4)
    fast, slow = FakeSocket(), FakeSocket(stuck=True)
    a, b = connect(hub, "alice", fast), connect(hub, "bob", slow)
    hub.join(a, "lobby")
    hub.join(b, "lobby")
    for i in range(20):
        hub.deliver("lobby", f"m{i}")  # never awaits a socket
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert fast.sent == [f"m{i}" for i in range(20)]
    assert slow.closed == (SLOW_CONSUMER, "slow consumer")
    assert hub.rooms["lobby"] == {a}
    assert b.rooms == {"lobby"}  # kept, so the app can still announce "left"
    assert hub.disconnect(b) == {"lobby"}


async def test_close_all_flushes_then_says_going_away():
    hub = Hub("s1")
    socks = [FakeSocket(), FakeSocket()]
    members = [connect(hub, name, sock) for name, sock in zip(["a", "b"], socks, strict=True)]
    for member in members:
        hub.join(member, "lobby")
    hub.deliver("lobby", "last words")
    await hub.close_all()
    assert [s.sent for s in socks] == [["last words"], ["last words"]]
    assert [s.closed for s in socks] == [(GOING_AWAY, "server shutting down")] * 2
    assert hub.closing and not hub.rooms


async def test_join_and_leave_keep_the_room_index_tidy():
    hub = Hub("s1")
    member = connect(hub, "alice", FakeSocket())
    assert hub.join(member, "r") and not hub.join(member, "r")
    assert hub.leave(member, "r") and not hub.leave(member, "r")
    assert hub.rooms == {}
    hub.disconnect(member)
    assert not hub.members


async def test_a_burst_is_backlogged_once_an_outbox_is_over_a_quarter_full():
    hub = Hub("s1", queue_size=16)
    sock = FakeSocket()
    member = connect(hub, "alice", sock)
    hub.join(member, "lobby")
    flags = []
    for i in range(6):  # no await in between: one burst, the pump has not run yet
        hub.deliver("lobby", f"m{i}")
        flags.append(hub.backlogged())
    assert flags == [False, False, False, False, True, True]  # 5 of 16 queued is over a quarter
    await asyncio.sleep(0)  # what the app does when backlogged: the pump sends all six at once
    assert sock.sent == [f"m{i}" for i in range(6)]
    hub.deliver("lobby", "next")
    assert not hub.backlogged()
    hub.disconnect(member)
