"""Two aiortc peers through our signaling server: chat, files, media, failures (TURN: test_webrtc_turn)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys

import pytest
from websockets.asyncio.client import connect

from learn_webrtc.chat import HIGH_WATER, receive_file, say, send_file
from learn_webrtc.file_transfer import CHUNK_SIZE, TransferError
from learn_webrtc.media import CounterVideoTrack, ToneAudioTrack, counter_of, peak
from learn_webrtc.peer import LAB_HOST, IceFailed, Peer, PeerGone, configuration, open_channel, pair
from wirelab_common.processes import start_process
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

QUIET = Trace("", stream=io.StringIO())  # the tests check objects, not trace lines (tests/test_demos.py does)


async def connect_chat(alice: Peer, bob: Peer):
    chat = alice.pc.createDataChannel("chat")
    await alice.join()
    await bob.join()
    await open_channel(chat, 20)
    return alice.inbox(chat), await bob.channel("chat", 20)


async def test_chat_lines_cross_a_host_to_host_pair_both_ways(signaling_url):
    async with pair(QUIET, signaling_url, "chat") as (alice, bob):
        alice_in, bob_in = await connect_chat(alice, bob)
        say(alice_in.channel, alice.trace, "hi bob")
        say(bob_in.channel, bob.trace, "hi alice")
        assert (await bob_in.next_json())["text"] == "hi bob"
        assert (await alice_in.next_json())["text"] == "hi alice"
        local, remote = alice.selected_pair()
        assert local.startswith(f"host {LAB_HOST}:") and remote.startswith(f"host {LAB_HOST}:")
        assert alice.local_candidates and bob.remote_candidates == alice.local_candidates


async def test_a_file_arrives_intact_and_a_flipped_chunk_is_named(signaling_url):
    async with pair(QUIET, signaling_url, "files") as (alice, bob):
        alice_in, bob_in = await connect_chat(alice, bob)
        chat = alice_in.channel
        data = os.urandom(3 * 1024 * 1024 + 123)  # > HIGH_WATER: the sender must pause on bufferedAmount
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace))
        sent = await send_file(chat, alice.trace, "blob", data, peer=alice)
        manifest, got = await receiving
        assert got == data and manifest.chunks == 193 and manifest == sent.manifest
        # Flow control: the sender waited on bufferedAmount instead of queueing 3 MiB at once.
        assert sent.pauses >= 1
        assert sent.peak_buffered <= HIGH_WATER + CHUNK_SIZE + 4
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace))
        await send_file(chat, alice.trace, "blob", data, corrupt_chunk=42)
        with pytest.raises(TransferError, match=r"corrupted chunk\(s\) \[42\]"):
            await receiving


async def test_video_counters_survive_vp8_and_the_tone_is_heard(signaling_url):
    async with pair(QUIET, signaling_url, "media") as (alice, bob):
        alice.pc.addTrack(CounterVideoTrack())
        alice.pc.addTrack(ToneAudioTrack())
        tracks: asyncio.Queue = asyncio.Queue()
        bob.pc.on("track", tracks.put_nowait)
        await alice.join()
        await bob.join()
        await bob.connected(20)
        received = {}
        for _ in range(2):
            track = await asyncio.wait_for(tracks.get(), 10)
            received[track.kind] = track
        counters = [counter_of(await asyncio.wait_for(received["video"].recv(), 10)) for _ in range(20)]
        assert all(b > a for a, b in zip(counters, counters[1:], strict=False)), counters
        assert counters[-1] - counters[0] < 4 * len(counters), counters  # gaps from loss, not misreads
        peaks = [peak(await asyncio.wait_for(received["audio"].recv(), 10)) for _ in range(10)]
        assert max(peaks) > 1000, peaks


async def test_a_relay_only_peer_without_turn_fails_in_bounded_time_with_a_reason(signaling_url):
    nowhere = configuration(relay_only=True)
    async with pair(QUIET, signaling_url, "hopeless", nowhere, nowhere) as (alice, bob):
        alice.pc.createDataChannel("chat")
        await alice.join()
        await bob.join()
        await alice.negotiated(20)  # a loaded machine may take a while; only then is ICE given 3 s
        with pytest.raises(IceFailed, match="no local candidates"):
            await alice.connected(timeout=3)


async def test_a_killed_peer_is_noticed_by_signaling_and_by_ice(signaling_url):
    alice = Peer("alice", signaling_url, "fragile", QUIET.child("alice"))
    chat = alice.pc.createDataChannel("chat")
    inbox = alice.inbox(chat)
    argv = [sys.executable, "-m", "learn_webrtc.chat", "--url", signaling_url, "--room", "fragile",
            "--name", "bob", "--say", "bob here", "--stay", "60"]
    try:
        await alice.join()
        bob = await asyncio.to_thread(start_process, argv, name="bob", ready_line="chat open", timeout=30)
        with bob:  # stopped by PID whatever happens
            await open_channel(chat, 20)
            assert (await inbox.next_json())["text"] == "bob here"
            bob.kill()
            await asyncio.wait_for(alice.peer_left.wait(), 10)
            async with connect(signaling_url) as carol:  # bob's slot in the room is free again
                await carol.send(json.dumps({"type": "join", "room": "fragile"}))
                assert json.loads(await asyncio.wait_for(carol.recv(), 10))["type"] == "joined"
            assert await alice.wait_disconnected(20) in ("failed", "closed")
    finally:
        await alice.close()


async def test_a_chat_peer_finds_the_chat_channel_by_label_among_others(signaling_url):
    """The offerer opens a second channel *before* the chat one: the chat process must still pick "chat"."""
    alice = Peer("alice", signaling_url, "two-channels", QUIET.child("alice"))
    side = alice.inbox(alice.pc.createDataChannel("side"))  # announced first, so it arrives first
    chat = alice.pc.createDataChannel("chat")
    inbox = alice.inbox(chat)
    argv = [sys.executable, "-m", "learn_webrtc.chat", "--url", signaling_url, "--room",
            "two-channels", "--name", "bob", "--say", "bob here", "--expect", "1"]
    try:
        await alice.join()
        bob = await asyncio.to_thread(start_process, argv, name="bob", ready_line="chat open", timeout=30)
        with bob:
            await open_channel(chat, 20)
            assert (await inbox.next_json())["text"] == "bob here"
            say(chat, alice.trace, "hi bob")
            assert await asyncio.to_thread(bob.popen.wait, 20) == 0, bob.output()[-3000:]
            with pytest.raises(PeerGone, match="peer-left"):  # bob is gone, and said nothing on "side"
                await side.next(5)
    finally:
        await alice.close()
