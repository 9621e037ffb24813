"""An aiortc peer for the NAT lab: it finds its partner through ``nat_relay``.

Reading order: stun -> stun_attributes -> stun_server -> stun_client -> netns -> nat_relay -> **nat_peer**
-> nat_lab.

Three roles, each one process (``nat_lab`` starts them inside namespaces)::

    python -m learn_webrtc.nat_peer offer  --url tcp://203.0.113.10:P --room r1 [--stun H:P] [--turn H:P]
    python -m learn_webrtc.nat_peer answer --url tcp://203.0.113.10:P --room r1 [--stun H:P] [--turn H:P]
    python -m learn_webrtc.nat_peer gather [--stun H:P]           # just print the candidates

``--url`` is the signaling relay (``nat_relay.py``, the URL of its ready
line).  Each peer joins a room there, then the offerer sends its SDP offer and
the answerer its answer, every candidate inside (aiortc gathers them all
before ``setLocalDescription`` returns).

Then ICE (RFC 8445) runs: each side pairs its candidates with the other's and
sends STUN Binding requests on every pair until one answers.  The offerer is
*controlling* and nominates the pair.  The peer prints the candidates, the
selected pair, one data-channel message each way, and a ``RESULT`` line:
``RESULT connected local=host remote=srflx`` or ``RESULT failed: ...``.

Bounded time: ICE gives up on a pair after its STUN retransmissions (§6.2.1);
aioice's default, 7 requests, takes 63.5 s.  ``--stun-attempts 3`` (the RFC
lets Rc be configured) makes that 3.5 s, and ``--timeout`` caps the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Sequence

import aioice.stun
from aiortc import RTCPeerConnection, RTCSessionDescription

from wirelab_common.errors import CheckFailed, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .inbox import channel_cid
from .peer import configuration, nominated_pair
from .stun_client import parse_address, url_parser
from .turn import PASSWORD, USER

RELAY = "relay"  # the signaling relay's actor name in its own trace (nat_relay.py)

# --- the peer ---------------------------------------------------------------------


def candidates_in(sdp: str) -> list[aioice.Candidate]:
    """The ``a=candidate:`` lines of an SDP (RFC 8839 §5.1) as aioice candidates."""
    return [aioice.Candidate.from_sdp(line[len("a=candidate:"):])
            for line in sdp.splitlines() if line.startswith("a=candidate:")]


def describe(candidate: aioice.Candidate) -> str:
    """``srflx 203.0.113.1:40000 (base 10.0.1.2:40000)``: where it is, and what it stands for."""
    text = f"{candidate.type:<5} {candidate.host}:{candidate.port}"
    if candidate.related_address:
        text += f" (base {candidate.related_address}:{candidate.related_port})"
    return text


class IceLog(logging.Handler):
    """aioice's own log of the checklist (``Check pair FROZEN -> WAITING``...) as trace lines."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(logging.INFO)
        self.trace = trace

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().split(" ", 1)[-1]  # drop the "Connection(0)" prefix
        self.trace.state(f"ice: {text.replace('CandidatePair', 'pair').replace('State.', '')}")


def make_peer_connection(args: argparse.Namespace) -> RTCPeerConnection:
    turn = (*args.turn, USER, PASSWORD) if args.turn else None
    return RTCPeerConnection(configuration(turn, args.relay_only, stun=args.stun))


async def gather(args: argparse.Namespace, trace: Trace) -> None:
    pc = make_peer_connection(args)
    pc.createDataChannel("probe")
    await pc.setLocalDescription(await pc.createOffer())
    for candidate in candidates_in(pc.localDescription.sdp):
        trace.state(f"gathered {describe(candidate)}")
    await pc.close()


async def run_peer(args: argparse.Namespace, trace: Trace) -> None:
    # RFC 8489 §6.2.1: Rc is configurable; fewer attempts = ICE fails in seconds, not a minute.
    aioice.stun.RETRY_MAX = args.stun_attempts - 1
    if args.verbose:
        logging.getLogger("aioice.ice").addHandler(IceLog(trace))
        logging.getLogger("aioice.ice").setLevel(logging.INFO)
    started = time.monotonic()
    pc = make_peer_connection(args)
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @pc.on("iceconnectionstatechange")
    def on_ice_state() -> None:
        trace.state(f"ICE {pc.iceConnectionState}")
        if pc.iceConnectionState == "failed" and not done.done():
            done.set_exception(CheckFailed("ICE failed: no candidate pair answered its checks"))

    def wire(channel) -> None:  # noqa: ANN001 (an RTCDataChannel)
        @channel.on("message")
        def on_message(message: str) -> None:
            trace.received(f"data channel {channel.label!r}: {message!r}", peer=args.remote,
                           cid=channel_cid(channel))
            if args.role == "answer":
                channel.send(f"echo from {args.name}: {message}")
                trace.sent(f"data channel {channel.label!r}: echo", peer=args.remote,
                           cid=channel_cid(channel))
            if not done.done():
                done.set_result(message)

    if args.role == "offer":
        channel = pc.createDataChannel("chat")
        wire(channel)

        @channel.on("open")
        def on_open() -> None:
            text = f"hello from {args.name}"
            channel.send(text)
            trace.sent(f"data channel 'chat': {text!r}", peer=args.remote, cid=channel_cid(channel))
    else:
        pc.on("datachannel", wire)

    reader, writer = await asyncio.open_connection(*args.url)
    writer.write(json.dumps({"join": args.room, "name": trace.actor}).encode() + b"\n")
    try:
        if args.role == "offer":
            await pc.setLocalDescription(await pc.createOffer())
            report_local(pc, trace)
            await send(writer, pc.localDescription, trace)
            await pc.setRemoteDescription(await receive(reader, trace, args.timeout))
        else:
            await pc.setRemoteDescription(await receive(reader, trace, args.timeout))
            await pc.setLocalDescription(await pc.createAnswer())
            report_local(pc, trace)
            await send(writer, pc.localDescription, trace)
        remaining = args.timeout - (time.monotonic() - started)
        try:
            await asyncio.wait_for(done, remaining)
        except TimeoutError:
            raise CheckFailed(f"no data-channel message within {args.timeout:.0f}s "
                              f"(ICE state {pc.iceConnectionState})") from None
        pair = nominated_pair(pc)
        if pair:
            trace.state(f"selected pair: local {describe(pair[0])} -> remote {describe(pair[1])}")
            print(f"RESULT connected local={pair[0].type} remote={pair[1].type} "
                  f"after {time.monotonic() - started:.1f}s", flush=True)
        if args.role == "answer":
            await asyncio.sleep(0.5)  # let the echo leave before closing
    except CheckFailed as exc:
        print(f"RESULT failed: {exc} after {time.monotonic() - started:.1f}s", flush=True)
        raise
    finally:
        writer.close()
        await pc.close()


def report_local(pc: RTCPeerConnection, trace: Trace) -> None:
    for candidate in candidates_in(pc.localDescription.sdp):
        trace.state(f"local candidate {describe(candidate)}")


async def send(writer: asyncio.StreamWriter, description: RTCSessionDescription, trace: Trace) -> None:
    writer.write(json.dumps({"type": description.type, "sdp": description.sdp}).encode() + b"\n")
    await writer.drain()
    trace.sent(f"{description.type} via signaling ({len(candidates_in(description.sdp))} candidates)",
               description.sdp.splitlines(), peer=RELAY)


async def receive(reader: asyncio.StreamReader, trace: Trace, timeout: float) -> RTCSessionDescription:
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        raise CheckFailed(f"the other peer's description did not arrive within {timeout:.0f}s") from None
    if not line:
        raise CheckFailed("signaling closed before the other peer's description arrived")
    message = json.loads(line)
    description = RTCSessionDescription(message["sdp"], message["type"])
    trace.received(f"{description.type} via signaling", description.sdp.splitlines(), peer=RELAY)
    for candidate in candidates_in(description.sdp):
        trace.received(f"remote candidate {describe(candidate)}", peer=RELAY)
    return description


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["offer", "answer", "gather"])
    parser.add_argument("--url", type=url_parser("tcp"), metavar="tcp://HOST:PORT",
                        help="the signaling relay (nat_relay's ready line)")
    parser.add_argument("--room", default="lab")
    parser.add_argument("--name", help="name in the trace (default: the role)")
    parser.add_argument("--remote", help="the other peer's name, for the structured events")
    parser.add_argument("--stun", type=parse_address, metavar="HOST:PORT")
    parser.add_argument("--turn", type=parse_address, metavar="HOST:PORT", help=f"coturn with user {USER}")
    parser.add_argument("--relay-only", action="store_true", help="iceTransportPolicy 'relay'")
    parser.add_argument("--stun-attempts", type=int, default=3, help="STUN requests per check (Rc)")
    parser.add_argument("--timeout", type=float, default=20.0, help="give up after this many seconds")
    add_verbosity(parser)  # -v: the SDPs and aioice's checks too
    args = parser.parse_args(argv)
    args.name = args.name or args.role
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    if args.role == "gather":
        run_main(lambda: gather(args, trace))
    else:
        if args.url is None:
            parser.error("--url tcp://HOST:PORT is required for offer and answer")
        run_main(lambda: run_peer(args, trace))


if __name__ == "__main__":
    main()
