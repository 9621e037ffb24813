"""The data-channel application: chat lines and files, and a peer you can run as a process.

Reading order: ... peer -> file_transfer -> media -> turn -> **chat** -> demo.

    python -m learn_webrtc.chat --url ws://127.0.0.1:8800/ws --room lobby --name alice \\
        [--say "hi"]... [--expect 1] [--send-file PATH | --receive-file PATH] [--stay 30] [-v | -q]

On the channel, text messages are JSON: ``{"type": "chat", "text": ...}`` and
the file messages of ``file_transfer.py``; binary messages are file chunks.

**Flow control.**  ``RTCDataChannel.send()`` never blocks: it appends to a
queue whose size is ``bufferedAmount``.  A sender that loops over a 16 MiB file
would queue all of it in memory before a byte leaves.  ``send_file`` stops when
``bufferedAmount`` passes HIGH_WATER and resumes on ``bufferedamountlow``, the
event fired when it falls to ``bufferedAmountLowThreshold`` (W3C WebRTC §6.2):
at most HIGH_WATER bytes plus one chunk ever sit in the channel's queue.  (The
file itself is read into memory whole; a sender for large files would read
each chunk only when flow control lets it go.)

**When the other peer goes.**  A dead receiver acknowledges nothing, so
``bufferedamountlow`` never comes; and once a channel closes, aiortc drops every
listener on it.  So ``drain`` also wakes on the channel's ``close`` and on the
``Peer``'s end (``peer-left`` from signaling, within milliseconds of the other
process dying; ``connectionState`` failed or closed, a few seconds later when
consent checks go unanswered), and ``send_file`` / ``receive_file`` stop with a
TransferError that says why and how far they got.

The process takes the channel labelled ``chat`` (``Peer.channel``): the other
peer may open more channels, in any order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass

from aiortc import RTCDataChannel

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace, shorten

from .file_transfer import Assembler, Manifest, TransferError, frames, make_manifest
from .inbox import channel_cid
from .peer import (
    LAB_HOST,
    IceFailed,
    Inbox,
    Peer,
    PeerGone,
    lab_timers,
    open_channel,
    restrict_host_addresses,
)

HIGH_WATER = 1024 * 1024  # stop queueing above 1 MiB ...
LOW_WATER = 256 * 1024  # ... and resume below 256 KiB


def say(channel: RTCDataChannel, trace: Trace, text: str, to: str | None = None) -> None:
    """Send one chat line; ``to`` is the other peer's actor name (for the structured events)."""
    message = json.dumps({"type": "chat", "text": text})
    trace.sent(f"{channel.label} {message}", peer=to, cid=channel_cid(channel))
    channel.send(message)


def stopped(channel: RTCDataChannel, peer: Peer | None) -> str | None:
    """Why nothing more can be sent on ``channel``, or None while it can."""
    if channel.readyState in ("closing", "closed"):
        return f"data channel {channel.label!r} {channel.readyState}"
    return peer.end_reason if peer is not None else None


async def drain(channel: RTCDataChannel, high_water: int = HIGH_WATER, peer: Peer | None = None) -> None:
    """Wait until ``bufferedAmount`` is back under the low-water mark, if it is above ``high_water``.

    PeerGone if the channel closes or ``peer`` learns that the other side is gone
    first: ``bufferedamountlow`` would then never come (aiortc drops every
    listener of a closed channel, and a dead peer acknowledges nothing).
    """
    if channel.bufferedAmount <= high_water:
        return
    wake = asyncio.Event()
    channel.on("bufferedamountlow", wake.set)
    channel.on("close", wake.set)
    forget = peer.when_ended(lambda _reason: wake.set()) if peer is not None else None
    try:
        while channel.bufferedAmount > channel.bufferedAmountLowThreshold:
            reason = stopped(channel, peer)
            if reason:
                raise PeerGone(f"{reason}, {channel.bufferedAmount} bytes still queued")
            wake.clear()
            await wake.wait()
    finally:
        with contextlib.suppress(KeyError):  # already gone if the channel closed
            channel.remove_listener("bufferedamountlow", wake.set)
            channel.remove_listener("close", wake.set)
        if forget is not None:
            forget()


@dataclass(frozen=True)
class FileSent:
    """What ``send_file`` did: the manifest, how often it waited, the most it ever had queued."""

    manifest: Manifest
    pauses: int
    peak_buffered: int  # at most HIGH_WATER + one chunk message: that is the flow control


async def send_file(channel: RTCDataChannel, trace: Trace, name: str, data: bytes,
                    corrupt_chunk: int | None = None, peer: Peer | None = None,
                    flow_control: bool = True) -> FileSent:
    """Manifest, chunks (with flow control), end marker.  ``corrupt_chunk`` flips a byte on purpose.

    ``flow_control=False`` queues every chunk at once (the demo's ``--no-flow-control``).

    TransferError, naming the reason and how far it got, as soon as the channel
    closes or ``peer`` learns the other side is gone.
    """
    manifest = make_manifest(name, data)
    channel.bufferedAmountLowThreshold = LOW_WATER
    trace.sent(f"{channel.label} file {name!r}: {manifest.size} bytes in {manifest.chunks} chunks, "
               f"sha256 {manifest.sha256[:16]}...", peer=peer.remote if peer else None,
               cid=channel_cid(channel))
    pauses = peak = sent = 0
    try:
        check_open(channel, peer)
        channel.send(json.dumps(manifest.to_message()))
        for index, frame in enumerate(frames(data, manifest.chunk_size)):
            if index == corrupt_chunk:
                frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])  # what a bad buffer would do
            if flow_control and channel.bufferedAmount > HIGH_WATER:
                pauses += 1
                await drain(channel, peer=peer)
            check_open(channel, peer)
            channel.send(frame)
            sent = index + 1
            peak = max(peak, channel.bufferedAmount)
        check_open(channel, peer)
        channel.send(json.dumps({"type": "file-end", "name": name}))
        trace.note(f"sender paused {pauses} time(s) on bufferedAmount > {HIGH_WATER} until "
                   f"bufferedamountlow (<= {LOW_WATER}); at most {peak} bytes were ever queued")
        await drain(channel, 0, peer)
    except PeerGone as exc:
        raise TransferError(f"sending {name!r} stopped after {sent} of {manifest.chunks} chunks "
                            f"were queued: {exc}") from None
    return FileSent(manifest, pauses, peak)


def check_open(channel: RTCDataChannel, peer: Peer | None) -> None:
    """PeerGone if nothing more can be sent (aiortc's send() would raise a bare InvalidStateError)."""
    reason = stopped(channel, peer)
    if reason:
        raise PeerGone(reason)


async def receive_file(inbox: Inbox, trace: Trace, timeout: float = 30.0,
                       checksums: bool = True) -> tuple[Manifest, bytes]:
    """Read one file from ``inbox``; TransferError (naming the bad chunks) if it does not check out.

    ``checksums=False`` accepts the file without its SHA-256 check (``Assembler.verify``).

    Also TransferError, with how far it got, when the channel or the connection
    ends mid-transfer (the Inbox knows: see ``Inbox.next``), or when nothing
    arrives for ``timeout`` seconds.
    """
    try:
        manifest = Manifest.from_message(await inbox.next_json(timeout))
    except (PeerGone, TimeoutError) as exc:
        raise TransferError(f"no file arrived: {exc}") from None
    trace.state(f"receiving {manifest.name!r}: {manifest.size} bytes in {manifest.chunks} chunks")
    assembler = Assembler(manifest)
    while True:
        try:
            message = await inbox.next(timeout)
        except (PeerGone, TimeoutError) as exc:
            raise TransferError(f"receiving {manifest.name!r} cut off after {len(assembler.pieces)} of "
                                f"{manifest.chunks} chunks: {exc}") from None
        if isinstance(message, str):
            end = json.loads(message)
            if end.get("type") != "file-end":
                raise TransferError(f"unexpected message during a transfer: {shorten(message)}")
            break
        assembler.add(message)
    data = assembler.verify(checksums)
    verified = "SHA-256 verified" if checksums else "SHA-256 NOT checked"
    trace.state(f"file {manifest.name!r}: {len(data)} bytes, {verified} ({manifest.sha256[:16]}...)")
    return manifest, data


async def run_peer(args: argparse.Namespace) -> None:
    """A chat peer process: join, connect, say lines, read ``--expect`` lines, then stay or leave."""
    restrict_host_addresses([args.host_address])
    lab_timers()
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    peer = Peer(args.name, args.url, args.room, trace)
    peer.remote = args.remote
    joined = await peer.join()
    try:
        # The first peer in the room offers, so it creates the channel (before its offer goes
        # out: peer-joined cannot arrive before this line runs); the other peer is handed it,
        # found by its label: the offerer may open other channels too, in any order.
        first = not joined["peers"]
        own = peer.inbox(peer.pc.createDataChannel("chat")) if first else None
        await peer.connected(args.timeout)
        inbox = own if own else await peer.channel("chat", args.timeout)
        try:
            channel = await open_channel(inbox.channel, args.timeout)
        except TimeoutError:
            raise IceFailed(peer.explain("connected, but the data channel did not open")) from None
        local, remote = peer.selected_pair() or ("?", "?")
        trace.state(f"chat open; selected pair {local} <-> {remote}")
        for text in args.say:
            say(channel, trace, text, to=peer.remote)
        for _ in range(args.expect):
            try:
                message = await inbox.next_json(args.timeout)
            except TimeoutError as exc:
                raise CheckFailed(str(exc)) from None
            check(message.get("type") == "chat", f"expected a chat message, got {message}")
        if args.send_file:
            with open(args.send_file, "rb") as file:
                data = file.read()
            await send_file(channel, trace, os.path.basename(args.send_file), data, peer=peer)
        if args.receive_file:
            _, data = await receive_file(inbox, trace, args.timeout)
            with open(args.receive_file, "wb") as file:
                file.write(data)
        if args.stay:
            trace.note(f"staying up to {args.stay:.0f} s, until the connection to the other peer ends")
            state = await peer.wait_disconnected(args.stay)
            trace.state(f"connection {state}: the other peer is gone")
    finally:
        await peer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_webrtc.chat", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the signaling server's WebSocket, ws://HOST:PORT/ws")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--name", default="peer")
    parser.add_argument("--remote", help="the other peer's name, for the structured events")
    parser.add_argument("--say", action="append", default=[], help="a chat line to send (repeatable)")
    parser.add_argument("--expect", type=int, default=0, help="chat lines to wait for")
    parser.add_argument("--send-file", metavar="PATH", help="then send this file")
    parser.add_argument("--receive-file", metavar="PATH", help="then receive one file, check it, write it")
    parser.add_argument("--stay", type=float, default=0, help="then wait this long for the peer to go")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--host-address", default=LAB_HOST, help="the one host candidate address")
    add_verbosity(parser)  # -v: the SDPs too
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    run_main(lambda: run_peer(args))


if __name__ == "__main__":
    main()
