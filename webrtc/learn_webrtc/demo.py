"""The webrtc demo: ``make demo-webrtc`` (``python -m learn_webrtc.demo [-v] [--act N]``).

Reading order: read this last; it drives everything else in the folder.

Acts, each checked, so the demo is also a test (CI runs it as one):

1. **Signaling.**  The signaling server on a free port; a raw client sends a
   malformed message (error, connection stays), two peers fill a room and a
   third is turned away (``room-full``, close 4003).
2. **Chat.**  alice and bob (aiortc, in this process) meet in a room: offer,
   answer, trickled candidates, ICE checks, DTLS, SCTP; a data channel carries
   chat lines both ways.
3. **A file.**  3 MiB in 16 KiB chunks with flow control (the sender waits
   whenever 1 MiB is queued), SHA-256 checked on arrival; then the same file
   with one chunk flipped on purpose: caught.
4. **Media.**  A video track whose frames carry a counter in big pixel blocks
   and a 440 Hz tone; bob decodes the counters (VP8 and back) and hears the tone.
5. **TURN.**  coturn on loopback; both peers relay-only: the selected pair is
   relay <-> relay and the chat goes through coturn.
6. **Failures.**  bob as a separate process is killed (SIGKILL): alice hears
   ``peer-left`` from the signaling server at once and her connection fails
   when consent checks go unanswered; a relay-only peer with no TURN server has
   no candidates at all, and the bounded wait says so instead of hanging.
7. **NATs** (as root only; ``--no-nat`` skips it): ``nat_lab.py`` puts two
   peers behind two NATs in network namespaces and shows which candidates
   get through: host only, STUN, symmetric NATs, TURN.

All addresses are loopback: the peers offer only 127.0.0.2 as a host candidate
(``peer.restrict_host_addresses``: aioice skips 127.0.0.1 and would otherwise
offer this machine's real interfaces), and coturn relays on 127.0.0.1.

Exit 0 when every check passed, 1 when one failed, 2 when something is missing
(coturn's ``turnserver``), with what to do.

Every check can fail: one switch per act turns off the mechanism the act shows,
and the demo then exits 1 naming what went wrong (``--act N`` runs one act;
act 3 runs act 2 first, for its connection):

    --no-room-limit    act 1: the server takes any number of peers per room (no room-full)
    --no-trickle       act 2: the peers send no candidates, so ICE has no pair to check
    --no-flow-control  act 3: the sender queues the whole file without waiting on bufferedAmount
    --no-sha256        act 3: the receiver skips the SHA-256 check; the flipped chunk goes through
    --frozen-video     act 4: the video counter stops (a stalled camera)
    --no-turn          act 5: no TURN server for the relay-only peers
    --no-consent       act 6: alice sends no consent checks, so her connection never sees bob die
    --no-stun          act 7: the NAT lab without its STUN server (case b cannot hole-punch)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from . import netns
from .chat import HIGH_WATER, receive_file, say, send_file
from .file_transfer import CHUNK_SIZE, TransferError
from .media import CounterVideoTrack, ToneAudioTrack, counter_of, peak
from .peer import (
    LAB_HOST,
    IceFailed,
    Peer,
    configuration,
    lab_timers,
    open_channel,
    pair,
    restrict_host_addresses,
)
from .signaling import user_agent
from .signaling_client import SERVER
from .turn import coturn

PY = sys.executable
ACTS = range(1, 8)


async def ask(ws: ClientConnection, text: str) -> dict:
    """Send one message on a raw WebSocket and read the server's reply (bounded: never hang)."""
    await ws.send(text)
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def act_signaling(trace: Trace, url: str) -> None:
    trace.banner("Act 1: the signaling server -- rooms of two, errors, room-full")
    agent = {"user_agent_header": user_agent(trace.actor)}  # the server names us "demo" in its events
    async with connect(url, **agent) as raw:
        reply = await ask(raw, "this is not json")
        trace.received(f"raw      {json.dumps(reply)}", peer=SERVER)
        check(reply.get("code") == "bad-json", f"expected bad-json, got {reply}")
        reply = await ask(raw, json.dumps({"type": "offer", "sdp": "v=0"}))
        trace.received(f"raw      {json.dumps(reply)}", peer=SERVER)
        check(reply.get("code") == "not-joined", f"expected not-joined, got {reply}")
        trace.note("malformed and out-of-order messages get an error; the connection stays open")
        join = json.dumps({"type": "join", "room": "full-house"})
        async with connect(url, **agent) as first, connect(url, **agent) as second, \
                connect(url, **agent) as third:
            # One after the other: three connections race, and the room must fill in this order.
            replies = [await ask(ws, join) for ws in (first, second, third)]
            check(replies[2].get("code") == "room-full",
                  f"no room limit: a third peer should be refused with room-full, got {replies[2]}")
            trace.received(f"third    {json.dumps(replies[2])}", peer=SERVER)
            try:
                extra = await asyncio.wait_for(third.recv(), 10)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                check(code == 4003, f"room-full should close with 4003, got {code}")
                trace.state(f"third    closed by the server with {code}")
            else:
                check(False, f"the third peer should have been closed, got {extra}")


async def act_chat_and_file(trace: Trace, url: str, args: argparse.Namespace) -> None:
    trace.banner("Act 2: alice and bob connect peer to peer; a data channel carries chat")
    async with pair(trace, url, "lobby") as (alice, bob):
        alice.trickle = bob.trickle = args.trickle
        chat = alice.pc.createDataChannel("chat")
        alice_in = alice.inbox(chat)
        started = time.monotonic()
        await alice.join()
        await bob.join()  # alice is told peer-joined and offers
        await alice.connected(10)  # IceFailed names the reason (no candidates, ...)
        await open_channel(chat)
        bob_in = await bob.channel("chat", 10)
        bob_chat = bob_in.channel
        trace.note(f"offer to open data channel: {1000 * (time.monotonic() - started):.0f} ms")
        local, remote = alice.selected_pair() or ("?", "?")
        trace.note(f"selected pair: {local} <-> {remote}")
        check(local.startswith("host"), f"on one machine the pair should be host <-> host: {local}")
        say(chat, alice.trace, "hi bob, this went peer to peer", to="bob")
        check((await bob_in.next_json())["text"].startswith("hi bob"), "bob did not get alice's line")
        say(bob_chat, bob.trace, "hi alice, the server never saw this", to="alice")
        check((await alice_in.next_json())["text"].startswith("hi alice"), "alice did not get bob's line")
        if 3 not in args.act:
            return

        trace.banner("Act 3: a file in 16 KiB chunks, flow control, SHA-256 on arrival")
        data = os.urandom(3 * 1024 * 1024)  # three times the high-water mark: the sender must wait
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace, checksums=args.sha256))
        sent = await send_file(chat, alice.trace, "photo.bin", data, peer=alice,
                               flow_control=args.flow_control)
        got_manifest, got = await receiving
        check(got == data and got_manifest.sha256 == sent.manifest.sha256, "the file arrived different")
        check(sent.pauses > 0 and sent.peak_buffered <= HIGH_WATER + CHUNK_SIZE + 4,
              f"no flow control: the sender paused {sent.pauses} time(s) and had {sent.peak_buffered} bytes "
              f"queued at most (the mark is {HIGH_WATER} plus one chunk)")
        trace.note("now the same file with chunk 7 flipped by the sender on purpose")
        receiving = asyncio.create_task(receive_file(bob_in, bob.trace, checksums=args.sha256))
        await send_file(chat, alice.trace, "photo.bin", data, corrupt_chunk=7, flow_control=args.flow_control)
        try:
            await receiving
        except TransferError as exc:
            bob.trace.state(f"transfer rejected: {exc}")
            check("[7]" in str(exc), f"the corrupted chunk should be named: {exc}")
        else:
            check(False, "a corrupted chunk went unnoticed: bob accepted the file with chunk 7 flipped")


async def act_media(trace: Trace, url: str, frozen: bool = False) -> None:
    trace.banner("Act 4: media -- a frame counter drawn in pixels, a 440 Hz tone (VP8, Opus, SRTP)")
    async with pair(trace, url, "studio") as (alice, bob):
        alice.pc.addTrack(CounterVideoTrack(step=0 if frozen else 1))
        alice.pc.addTrack(ToneAudioTrack())
        tracks: asyncio.Queue = asyncio.Queue()
        bob.pc.on("track", lambda track: (bob.trace.state(f"track {track.kind} arrived"),
                                          tracks.put_nowait(track)))
        await alice.join()
        await bob.join()
        await bob.connected()
        received = {}
        for _ in range(2):
            track = await asyncio.wait_for(tracks.get(), 10)
            received[track.kind] = track
        counters = [counter_of(await asyncio.wait_for(received["video"].recv(), 10)) for _ in range(45)]
        bob.trace.received(f"video 45 frames, counters {counters[:4]} ... {counters[-2:]}", peer="alice")
        check(all(b > a for a, b in zip(counters, counters[1:], strict=False)),
              f"the video did not move: frame counters should only go up: {counters}")
        # A misread counter would jump; a frame lost under load only leaves a small gap.
        check(counters[-1] - counters[0] < 4 * len(counters), f"counters misread: {counters}")
        lost = counters[-1] - counters[0] + 1 - len(counters)
        trace.note(f"{len(counters)} frames decoded in order, {lost} skipped by the receiver")
        peaks = [peak(await asyncio.wait_for(received["audio"].recv(), 10)) for _ in range(25)]
        bob.trace.received(f"audio 25 frames of 20 ms, peak amplitude {max(peaks)} (silence would be ~0)",
                           peer="alice")
        check(max(peaks) > 1000, f"the tone did not come through: peaks {peaks}")


async def act_turn(trace: Trace, url: str, verbose: bool, use_turn: bool = True) -> None:
    trace.banner("Act 5: relay only -- every byte through coturn (TURN, RFC 8656)")
    with contextlib.ExitStack() as stack:
        relayed = configuration(relay_only=True)
        if use_turn:
            turn = stack.enter_context(coturn(echo=verbose))
            trace.state(f"coturn on {turn.url}, user {turn.user}, relay ports on 127.0.0.1")
            relayed = configuration(turn.server, relay_only=True)
        else:
            trace.note("--no-turn: relay-only peers, and no TURN server to relay through")
        async with pair(trace, url, "relayed", relayed, relayed) as (alice, bob):
            chat = alice.pc.createDataChannel("chat")
            await alice.join()
            await bob.join()
            await alice.connected(10)  # IceFailed names the reason
            await open_channel(chat)
            bob_in = await bob.channel("chat", 10)
            for peer in (alice, bob):
                local, remote = peer.selected_pair() or ("?", "?")
                peer.trace.state(f"selected pair {local} <-> {remote}")
                check(local.startswith("relay") and remote.startswith("relay"),
                      f"not relayed: {local}, {remote}")
            say(chat, alice.trace, "this line went through the relay", to="bob")
            check((await bob_in.next_json())["text"].endswith("relay"), "the relayed line did not arrive")


async def act_failures(trace: Trace, url: str, verbose: bool, consent: bool = True) -> None:
    trace.banner("Act 6: failures -- a peer killed, and ICE with no candidates")
    alice = Peer("alice", url, "fragile", trace.child("alice"))
    alice.remote = "bob"
    chat = alice.pc.createDataChannel("chat")
    inbox = alice.inbox(chat)  # listening before the channel opens: bob speaks first
    lab_timers(consent=consent)  # only alice's side: bob is another process, with his own timers
    argv = [PY, "-m", "learn_webrtc.chat", "--url", url, "--room", "fragile", "--name", "bob",
            "--remote", "alice", "--expect", "1", "--stay", "60", "--say", "bob here, in another process"]
    argv += ["-v"] if verbose else []
    bob: ManagedProcess | None = None
    try:
        await alice.join()
        # start_process waits for the ready line by blocking: in a thread, so alice's loop keeps running.
        bob = await asyncio.to_thread(start_process, argv, name="bob", ready_line="chat open", echo=True,
                                      timeout=30)
        await open_channel(chat)
        check((await inbox.next_json())["text"].startswith("bob here"), "no line from bob's process")
        say(chat, alice.trace, "hello, other process", to="bob")
        await asyncio.sleep(0.5)
        trace.note(f"SIGKILL to bob (pid {bob.pid}): no bye, no DTLS close alert, nothing")
        started = time.monotonic()
        bob.kill()
        await asyncio.wait_for(alice.peer_left.wait(), 10)
        trace.note(f"the signaling server saw bob's TCP connection drop: peer-left after "
                   f"{time.monotonic() - started:.1f} s")
        async with connect(url, user_agent_header=user_agent(trace.actor)) as newcomer:
            reply = await ask(newcomer, json.dumps({"type": "join", "room": "fragile"}))
            check(reply.get("type") == "joined", f"bob's slot should be free again: {reply}")
            trace.received(f"carol    {json.dumps(reply)} -- bob's slot is free again", peer=SERVER)
        try:
            state = await alice.wait_disconnected(10)
        except IceFailed as exc:
            raise CheckFailed(f"alice never noticed that bob is gone (no consent checks?): {exc}") from None
        trace.note(f"alice's ICE consent checks went unanswered: connection {state} after "
                   f"{time.monotonic() - started:.1f} s (RFC 7675; lab timers: 1 s x 3)")
    finally:
        if bob is not None:
            bob.stop()
        await alice.close()
        lab_timers()

    trace.note("relay-only with no TURN server: aioice gathers nothing; after offer/answer we give ICE 3 s")
    nowhere = configuration(relay_only=True)
    async with pair(trace, url, "hopeless", nowhere, nowhere) as (alice, bob):
        alice.pc.createDataChannel("chat")
        await alice.join()
        await bob.join()
        await alice.negotiated()
        try:
            await alice.connected(timeout=3)
        except IceFailed as exc:
            alice.trace.state(f"gave up: {exc}")
            check("no local candidates" in str(exc), f"the reason should be named: {exc}")
        else:
            check(False, "a relay-only connection without TURN should not connect")


async def act_nat(trace: Trace, verbose: bool, stun: bool = True) -> None:
    """The NAT lab (``nat_lab.py``): real NATs in network namespaces; needs root."""
    why = netns.lab_unavailable()
    if why:
        trace.banner("Next: NAT traversal in network namespaces (skipped here)")
        trace.note(f"{why}; then: sudo .venv/bin/python -m learn_webrtc.nat_lab")
        return
    trace.banner("Act 7: behind two NATs -- host only, STUN, symmetric NATs, TURN (nat_lab.py, as root)")
    argv = [PY, "-m", "learn_webrtc.nat_lab"] + (["-v"] if verbose else []) + ([] if stun else ["--no-stun"])
    lab = await asyncio.to_thread(start_process, argv, name="nat_lab", echo=True, timeout=5)
    try:
        code = await asyncio.to_thread(lab.popen.wait, 90)
    except subprocess.TimeoutExpired:
        code = "nothing: still running after 90 s"
    finally:
        lab.stop()  # SIGTERM: the lab's `finally` blocks delete its namespaces
    check(code == 0, f"the NAT lab failed (nat_lab exited {code}; its FAILED line is above)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_webrtc.demo", description=__doc__.split("\n")[0],
                                     epilog="Each --no-... switch turns off what one act shows: "
                                            "that act's check must then fail (exit 1).")
    add_verbosity(parser)  # -v: SDP bodies and coturn's log
    parser.add_argument("--act", type=int, action="append", choices=ACTS, metavar="N",
                        help="run only act N (repeatable; act 3 also runs act 2)")
    parser.add_argument("--no-nat", dest="nat", action="store_false",
                        help="skip act 7, the NAT lab (it runs only as root, ~20 s)")
    switch = parser.add_argument_group("switches that make one act's check fail")
    switch.add_argument("--no-room-limit", dest="room_limit", action="store_false",
                        help="act 1: rooms of any size (the server's --room-size 1000)")
    switch.add_argument("--no-trickle", dest="trickle", action="store_false",
                        help="act 2: the peers send no candidate messages")
    switch.add_argument("--no-flow-control", dest="flow_control", action="store_false",
                        help="act 3: queue the whole file, never wait on bufferedAmount")
    switch.add_argument("--no-sha256", dest="sha256", action="store_false",
                        help="act 3: accept the file without its SHA-256 check")
    switch.add_argument("--frozen-video", action="store_true", help="act 4: the frame counter stops")
    switch.add_argument("--no-turn", dest="turn", action="store_false", help="act 5: no TURN server")
    switch.add_argument("--no-consent", dest="consent", action="store_false",
                        help="act 6: alice sends no ICE consent checks (RFC 7675)")
    switch.add_argument("--no-stun", dest="stun", action="store_false",
                        help="act 7: the NAT lab without its STUN server")
    args = parser.parse_args(argv)
    args.act = set(args.act or ACTS)
    if 3 in args.act:
        args.act.add(2)
    return args


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose, quiet=args.quiet)
    restrict_host_addresses([LAB_HOST])
    lab_timers()
    server_argv = [PY, "-m", "learn_webrtc.signaling_server", "--port", "0", "-v" if args.verbose else "-q"]
    server_argv += [] if args.room_limit else ["--room-size", "1000"]
    with start_server(server_argv, name="signal", echo=True) as server:
        url = server.url.replace("http://", "ws://") + "/ws"
        if 1 in args.act:
            await act_signaling(trace, url)
        if 2 in args.act:
            await act_chat_and_file(trace, url, args)
        if 4 in args.act:
            await act_media(trace, url, args.frozen_video)
        if 5 in args.act:
            await act_turn(trace, url, args.verbose, args.turn)
        if 6 in args.act:
            await act_failures(trace, url, args.verbose, args.consent)
    if args.nat and 7 in args.act:
        await act_nat(trace, args.verbose, args.stun)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
