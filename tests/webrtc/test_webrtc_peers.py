"""Two aiortc peers through our signaling server: chat, files, media, TURN, and failures."""

from __future__ import annotations

import asyncio
import io
import os
import sys

import aioice.ice
import pytest

from learn_webrtc.chat import receive_file, say, send_file
from learn_webrtc.file_transfer import TransferError
from learn_webrtc.media import CounterVideoTrack, ToneAudioTrack, counter_of, peak
from learn_webrtc.peer import LAB_HOST, IceFailed, Inbox, Peer, configuration, open_channel
from learn_webrtc.turn import coturn
from tests.conftest import need_binary
from wirelab_common.ports import free_port
from wirelab_common.processes import start_process
from wirelab_common.wiretrace import Trace

READY = r"listening on http://"


@pytest.fixture
def lab(monkeypatch):
    """Only 127.0.0.2 as a host candidate, and consent checks on a 1 s x 3 clock (undone after)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LAB_HOST])
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 1.0)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 3)


@pytest.fixture
def signaling_url(procs, lab):
    port = free_port()
    procs.python("learn_webrtc.signaling_server", "--port", str(port), ready_line=READY)
    return f"ws://127.0.0.1:{port}/ws"


def two_peers(url, room, config_a=None, config_b=None, stream=None):
    trace = Trace("", stream=stream or io.StringIO())
    return (Peer("alice", url, room, trace.child("alice"), config_a),
            Peer("bob", url, room, trace.child("bob"), config_b))


async def connect_chat(alice: Peer, bob: Peer):
    chat = alice.pc.createDataChannel("chat")
    await alice.join()
    await bob.join()
    await open_channel(chat, 20)
    return Inbox(chat, alice.trace), await asyncio.wait_for(bob.channels.get(), 20)


async def test_chat_lines_cross_a_host_to_host_pair_both_ways(signaling_url):
    alice, bob = two_peers(signaling_url, "chat")
    try:
        alice_in, bob_in = await connect_chat(alice, bob)
        say(alice_in.channel, alice.trace, "hi bob")
        say(bob_in.channel, bob.trace, "hi alice")
        assert (await bob_in.next_json())["text"] == "hi bob"
        assert (await alice_in.next_json())["text"] == "hi alice"
        local, remote = alice.selected_pair()
        assert local.startswith(f"host {LAB_HOST}:") and remote.startswith(f"host {LAB_HOST}:")
        assert alice.local_candidates and bob.remote_candidates == alice.local_candidates
    finally:
        await alice.close()
        await bob.close()


async def test_a_file_arrives_intact_and_a_flipped_chunk_is_named(signaling_url):
    alice, bob = two_peers(signaling_url, "files")
    try:
        alice_in, bob_in = await connect_chat(alice, bob)
        chat = alice_in.channel
        data = os.urandom(3 * 1024 * 1024 + 123)  # > HIGH_WATER: the sender must pause on bufferedAmount
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace))
        await send_file(chat, alice.trace, "blob", data)
        manifest, got = await receiving
        assert got == data and manifest.chunks == 193
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace))
        await send_file(chat, alice.trace, "blob", data, corrupt_chunk=42)
        with pytest.raises(TransferError, match=r"corrupted chunk\(s\) \[42\]"):
            await receiving
    finally:
        await alice.close()
        await bob.close()


async def test_video_counters_survive_vp8_and_the_tone_is_heard(signaling_url):
    alice, bob = two_peers(signaling_url, "media")
    alice.pc.addTrack(CounterVideoTrack())
    alice.pc.addTrack(ToneAudioTrack())
    tracks: asyncio.Queue = asyncio.Queue()
    bob.pc.on("track", tracks.put_nowait)
    try:
        await alice.join()
        await bob.join()
        await bob.connected(20)
        received = {}
        for _ in range(2):
            track = await asyncio.wait_for(tracks.get(), 10)
            received[track.kind] = track
        counters = [counter_of(await asyncio.wait_for(received["video"].recv(), 10)) for _ in range(20)]
        assert all(b > a for a, b in zip(counters, counters[1:], strict=False)), counters
        peaks = [peak(await asyncio.wait_for(received["audio"].recv(), 10)) for _ in range(10)]
        assert max(peaks) > 1000, peaks
    finally:
        await alice.close()
        await bob.close()


async def test_relay_only_peers_go_through_coturn(signaling_url):
    need_binary("turnserver", "coturn")
    with coturn() as turn:
        alice, bob = two_peers(signaling_url, "relayed", configuration(turn.server, relay_only=True),
                               configuration(turn.server, relay_only=True))
        try:
            alice_in, bob_in = await connect_chat(alice, bob)
            say(alice_in.channel, alice.trace, "via coturn")
            assert (await bob_in.next_json())["text"] == "via coturn"
            for peer in (alice, bob):
                local, remote = peer.selected_pair()
                assert local.startswith("relay 127.0.0.1:") and remote.startswith("relay 127.0.0.1:")
                assert all(" typ relay" in c for c in peer.local_candidates)
        finally:
            await alice.close()
            await bob.close()


async def test_a_relay_only_peer_without_turn_fails_in_bounded_time_with_a_reason(signaling_url):
    alice, bob = two_peers(signaling_url, "hopeless", configuration(relay_only=True),
                           configuration(relay_only=True))
    alice.pc.createDataChannel("chat")
    try:
        await alice.join()
        await bob.join()
        with pytest.raises(IceFailed, match="no local candidates"):
            await alice.connected(timeout=3)
    finally:
        await alice.close()
        await bob.close()


async def test_a_killed_peer_is_noticed_by_signaling_and_by_ice(signaling_url):
    alice, _ = two_peers(signaling_url, "fragile")
    chat = alice.pc.createDataChannel("chat")
    inbox = Inbox(chat, alice.trace)
    await alice.join()
    argv = [sys.executable, "-m", "learn_webrtc.chat", "--signaling", signaling_url, "--room", "fragile",
            "--name", "bob", "--say", "bob here", "--stay", "60"]
    bob = await asyncio.to_thread(start_process, argv, name="bob", ready_line="chat open", timeout=30)
    try:
        await open_channel(chat, 20)
        assert (await inbox.next_json())["text"] == "bob here"
        bob.kill()
        await asyncio.wait_for(alice.peer_left.wait(), 10)
        assert await alice.wait_disconnected(20) in ("failed", "closed")
    finally:
        bob.stop()
        await alice.close()
