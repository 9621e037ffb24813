"""The NAT lab's signaling relay: WebRTC signaling at its smallest, over TCP.

Reading order: stun -> stun_attributes -> stun_server -> stun_client -> netns -> **nat_relay** -> nat_peer
-> nat_lab.

    python -m learn_webrtc.nat_relay --host 203.0.113.10 --port 0 [-v | -q]

It prints ``= relay    listening on tcp://203.0.113.10:P`` once it accepts;
the peers take that as ``--url``.  It runs in the lab's public namespace, which
both peers can reach *through* their NATs (outgoing TCP is always allowed).
Each peer sends one JSON line ``{"join": room, "name": its name}`` (the name only
labels it in the structured events); once two have joined the same
room, every later line from one is passed to the other.  The offerer sends its
SDP offer, the answerer its answer; each SDP carries all the candidates (no
trickle: aiortc gathers before it answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Sequence

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace


class SignalingRelay:
    """Pairs TCP clients by room and copies lines between the two of a room."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.waiting: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter, str | None]] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            hello = json.loads(await reader.readline())
            room, name = hello["join"], hello.get("name")
        except (ValueError, KeyError, TypeError, AttributeError):
            writer.close()
            return
        self.trace.received(f"join {room!r} from {peer[0]}:{peer[1]}  (the router's public address)",
                            peer=name)
        partner = self.waiting.pop(room, None)
        if partner is None:
            self.waiting[room] = (reader, writer, name)
            return
        self.trace.state(f"room {room!r} has two peers: relaying")
        other_reader, other_writer, other_name = partner
        await asyncio.gather(self.pipe(other_reader, writer, room, name),
                             self.pipe(reader, other_writer, room, other_name))
        writer.close()
        other_writer.close()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, room: str,
                   to: str | None = None) -> None:
        while line := await reader.readline():
            kind = json.loads(line).get("type", "?")
            self.trace.sent(f"{kind} ({len(line)} bytes) relayed in room {room!r}", peer=to)
            writer.write(line)
            await writer.drain()
        writer.write_eof()


async def serve(host: str, port: int, trace: Trace) -> None:
    """Relay until SIGTERM; the ready line once the socket accepts."""
    relay = SignalingRelay(trace)
    try:
        server = await asyncio.start_server(relay.handle, host, port)
    except OSError as exc:
        raise SetupError(f"cannot listen on tcp {host}:{port}: {exc.strerror}",
                         "pass another --port (0 picks a free one)") from None
    bound = server.sockets[0].getsockname()
    announce(trace, f"tcp://{bound[0]}:{bound[1]}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_webrtc.nat_relay",
                                     description=__doc__.split("\n")[0])
    add_server_options(parser, port=0)
    args = parser.parse_args(argv)
    run_server(lambda: serve(args.host, args.port, Trace("relay", args.verbose, quiet=args.quiet)), args.loop)


if __name__ == "__main__":
    main()
