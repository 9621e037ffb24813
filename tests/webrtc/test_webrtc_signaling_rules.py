"""The signaling protocol, pure: message validation and the room state machine (no I/O)."""

from __future__ import annotations

import json

import pytest

from learn_webrtc.signaling import (
    ROOM_FULL_CLOSE,
    TRANSITIONS,
    Close,
    PeerState,
    Rooms,
    Send,
    SignalingError,
    parse_message,
)
from wirelab_common.state_table import BadTransition

pytestmark = pytest.mark.pure


def j(**message) -> str:
    return json.dumps(message)


def sent_to(actions, peer):
    return [a.message for a in actions if isinstance(a, Send) and a.peer == peer]


# -- pure: messages ------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    ("not json", "bad-json"),
    ("[1, 2]", "bad-json"),
    ("[" * 50_000, "bad-json"),  # nested deeper than json.loads can recurse, still under 64 KiB
    (j(type="dance"), "bad-message"),
    (j(type=["join"]), "bad-message"),  # not a str: must not reach the dict lookup (unhashable)
    (j(room="r"), "bad-message"),
    (j(type="join"), "bad-message"),
    (j(type="join", room=""), "bad-message"),
    (j(type="offer", sdp=3), "bad-message"),
    (j(type="candidate", candidate="candidate:1 1 udp 1 127.0.0.2 9 typ host", sdpMLineIndex="0"),
     "bad-message"),
    ("x" * 70000, "too-big"),
])
def test_malformed_messages_are_refused_with_a_code(text, code):
    with pytest.raises(SignalingError) as info:
        parse_message(text)
    assert info.value.code == code


def test_a_null_candidate_is_end_of_candidates_and_valid():
    assert parse_message(j(type="candidate", candidate=None))["candidate"] is None


def test_fields_outside_the_documented_format_are_dropped():
    message = j(type="offer", sdp="v=0", extra=[1], **{"from": "p9"})
    assert parse_message(message) == {"type": "offer", "sdp": "v=0"}


# -- pure: the room state machine ------------------------------------------------------

def joined_pair() -> Rooms:
    rooms = Rooms()
    for peer in ("p0", "p1"):
        rooms.connect(peer)
        rooms.receive(peer, j(type="join", room="r"))
    return rooms


def test_the_second_peer_is_announced_to_the_first_who_then_offers():
    rooms = Rooms()
    rooms.connect("p0")
    assert sent_to(rooms.receive("p0", j(type="join", room="r")), "p0") == [
        {"type": "joined", "room": "r", "peer": "p0", "peers": []}]
    rooms.connect("p1")
    actions = rooms.receive("p1", j(type="join", room="r"))
    assert sent_to(actions, "p1") == [{"type": "joined", "room": "r", "peer": "p1", "peers": ["p0"]}]
    assert sent_to(actions, "p0") == [{"type": "peer-joined", "peer": "p1"}]


def test_offer_answer_and_candidates_are_relayed_with_the_sender():
    rooms = joined_pair()
    assert rooms.receive("p0", j(type="offer", sdp="v=0")) == [
        Send("p1", {"type": "offer", "sdp": "v=0", "from": "p0"})]
    candidate = {"type": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.2 9 typ host",
                 "sdpMid": "0", "sdpMLineIndex": 0}
    assert rooms.receive("p1", json.dumps(candidate)) == [Send("p0", {**candidate, "from": "p1"})]


def test_a_third_peer_gets_room_full_and_is_closed_with_4003():
    rooms = joined_pair()
    rooms.connect("p2")
    actions = rooms.receive("p2", j(type="join", room="r"))
    assert actions[0].message["code"] == "room-full"
    assert actions[1] == Close("p2", ROOM_FULL_CLOSE, "room full")
    assert rooms.rooms["r"] == ["p0", "p1"]


def test_messages_before_join_and_a_second_join_are_out_of_order():
    rooms = Rooms()
    rooms.connect("p0")
    refused = sent_to(rooms.receive("p0", j(type="offer", sdp="v=0")), "p0")[0]
    assert refused["code"] == "not-joined"
    assert refused["reason"] == "'offer' is not allowed while CONNECTED (expected: join)"
    rooms.receive("p0", j(type="join", room="r"))
    assert sent_to(rooms.receive("p0", j(type="join", room="s")), "p0")[0]["code"] == "already-joined"
    assert sent_to(rooms.receive("p0", j(type="offer", sdp="v=0")), "p0")[0]["code"] == "no-peer"
    assert rooms.state["p0"] is PeerState.JOINED


def test_a_disconnect_frees_the_slot_and_tells_the_other_peer():
    rooms = joined_pair()
    assert rooms.disconnect("p1") == [Send("p0", {"type": "peer-left", "peer": "p1"})]
    rooms.connect("p2")
    assert sent_to(rooms.receive("p2", j(type="join", room="r")), "p2")[0]["peers"] == ["p0"]


def test_bye_leaves_and_an_empty_room_disappears():
    rooms = joined_pair()
    assert sent_to(rooms.receive("p0", j(type="bye")), "p1") == [{"type": "peer-left", "peer": "p0"}]
    rooms.receive("p1", j(type="bye"))
    assert rooms.rooms == {}




def test_the_table_refuses_with_bad_transition_naming_what_it_expected():
    with pytest.raises(BadTransition) as info:
        TRANSITIONS.next(PeerState.JOINED, "join")
    assert "join" not in info.value.expected and {"offer", "bye"} <= set(info.value.expected)


def test_after_bye_every_message_is_not_joined():
    rooms = joined_pair()
    rooms.receive("p0", j(type="bye"))
    assert rooms.state["p0"] is PeerState.GONE
    assert sent_to(rooms.receive("p0", j(type="offer", sdp="v=0")), "p0")[0]["code"] == "not-joined"


def test_a_refused_peer_is_gone():
    rooms = joined_pair()
    rooms.connect("p2")
    rooms.receive("p2", j(type="join", room="r"))
    assert rooms.state["p2"] is PeerState.GONE


def test_the_room_size_is_the_servers_choice():
    rooms = Rooms(room_size=3)
    for peer in ("p0", "p1", "p2"):
        rooms.connect(peer)
        assert sent_to(rooms.receive(peer, j(type="join", room="r")), peer)[0]["type"] == "joined"
