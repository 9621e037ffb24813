"""The signaling server over real WebSockets: errors, limits, close codes, the freed slot, the page."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from learn_webrtc.signaling import MAX_FRAME, MAX_MESSAGE, ROOM_FULL_CLOSE
from tests.webrtc.conftest import signaling_server, ws_url

pytestmark = pytest.mark.loopback


def j(**message) -> str:
    return json.dumps(message)


# -- the server, over real WebSockets ------------------------------------------------------

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

    options = ["--ice-server", "stun:127.0.0.1:3478", "--ice-server", "turn:127.0.0.1:3478?transport=udp",
               "--ice-username", "test", "--ice-credential", "secret", "--ice-transport-policy", "relay"]
    with signaling_server(*options) as proc:
        config = httpx.get(f"{proc.url}/config", timeout=10).json()
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


async def test_server_with_a_larger_room_size_admits_a_third_peer():
    with signaling_server("--room-size", "3") as proc:
        url = ws_url(proc)
        async with connect(url) as a, connect(url) as b, connect(url) as c:
            for ws in (a, b, c):
                await ws.send(j(type="join", room="big"))
                assert (await recv_json(ws))["type"] == "joined"
