"""The signaling protocol: the pure room state machine, then the real server over WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from learn_webrtc.signaling import (
    MAX_FRAME,
    MAX_MESSAGE,
    ROOM_FULL_CLOSE,
    Close,
    PeerState,
    Rooms,
    Send,
    SignalingError,
    parse_message,
)
from wirelab_common.ports import free_port
from wirelab_common.processes import start_process


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
    assert sent_to(rooms.receive("p0", j(type="offer", sdp="v=0")), "p0")[0]["code"] == "not-joined"
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


# -- the server, over real WebSockets ------------------------------------------------------

@pytest.fixture
def signaling_url(shared_signaling_url):
    return shared_signaling_url


ROOM_NUMBERS = itertools.count()


@pytest.fixture
def room():
    """A room of its own for each test: the server is shared, and it handles disconnects asynchronously."""
    return f"room{next(ROOM_NUMBERS)}"


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 10))  # bounded: a missing reply fails, not hangs


async def test_server_answers_bad_messages_and_keeps_the_connection(signaling_url, room):
    bad = [("{oops", "bad-json"), ("[1]", "bad-json"), ("[" * 50_000, "bad-json"), ('"text"', "bad-json"),
           (j(type=[]), "bad-message"), (j(type="dance"), "bad-message"),
           (j(type="join", room=5), "bad-message"), (j(type="offer", sdp="x" * (MAX_MESSAGE + 1)), "too-big"),
           (j(type="offer", sdp="v=0"), "not-joined")]
    async with connect(signaling_url, max_size=None) as ws:
        for text, code in bad:
            await ws.send(text)
            reply = await recv_json(ws)
            assert reply["type"] == "error" and reply["code"] == code and reply["reason"], (text[:40], reply)
        await ws.send(j(type="join", room=room))
        assert (await recv_json(ws))["type"] == "joined"


async def test_server_closes_a_connection_whose_message_exceeds_the_frame_limit_with_1009(
        signaling_url, room):
    async with connect(signaling_url, max_size=None) as ws:
        await ws.send("x" * (MAX_FRAME + 1))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd.code == 1009
    async with connect(signaling_url) as ws:  # and the server goes on serving
        await ws.send(j(type="join", room=room))
        assert (await recv_json(ws))["type"] == "joined"


async def test_server_closes_a_third_peer_with_4003(signaling_url, room):
    async with connect(signaling_url) as a, connect(signaling_url) as b, connect(signaling_url) as c:
        for ws in (a, b):
            await ws.send(j(type="join", room=room))
            assert (await recv_json(ws))["type"] == "joined"
        await c.send(j(type="join", room=room))
        assert (await recv_json(c))["code"] == "room-full"
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(c.recv(), 10)
        assert info.value.rcvd.code == ROOM_FULL_CLOSE


async def test_server_tells_the_other_peer_when_one_disconnects(signaling_url, room):
    async with connect(signaling_url) as a:
        await a.send(j(type="join", room=room))
        await recv_json(a)
        async with connect(signaling_url) as b:
            await b.send(j(type="join", room=room))
            joined = await recv_json(b)
            assert (await recv_json(a)) == {"type": "peer-joined", "peer": joined["peer"]}
        assert (await recv_json(a)) == {"type": "peer-left", "peer": joined["peer"]}
        async with connect(signaling_url) as c:  # the slot is free again
            await c.send(j(type="join", room=room))
            assert (await recv_json(c))["peers"] == [joined["peers"][0]]


async def test_server_serves_the_browser_page(signaling_url):
    import httpx

    base = signaling_url.replace("ws://", "http://").removesuffix("/ws")
    async with httpx.AsyncClient() as client:
        page = await client.get(base + "/")
        script = await client.get(base + "/peer.js")
    assert page.status_code == 200 and "peer.js" in page.text
    assert script.status_code == 200 and "RTCPeerConnection" in script.text
    async with httpx.AsyncClient() as client:
        config = (await client.get(base + "/config")).json()
    assert config == {"iceServers": [], "iceTransportPolicy": "all"}  # no --ice-* options


def test_server_hands_the_page_the_ice_servers_and_policy_it_was_given():
    import httpx

    port = free_port()
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", str(port),
            "--ice-server", "stun:127.0.0.1:3478", "--ice-server", "turn:127.0.0.1:3478?transport=udp",
            "--ice-username", "test", "--ice-credential", "secret", "--ice-transport-policy", "relay"]
    with start_process(argv, name="signal", ready_line=r"listening on http://"):
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=10).json()
    # The shape of the browser's RTCConfiguration (W3C WebRTC §4.2.1): new RTCPeerConnection(config).
    assert config == {"iceServers": [{"urls": ["stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"],
                                      "username": "test", "credential": "secret"}],
                      "iceTransportPolicy": "relay"}


async def test_server_closes_a_connection_that_sends_binary_with_1003(signaling_url):
    async with connect(signaling_url) as ws:
        await ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd.code == 1003
