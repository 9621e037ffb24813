"""An authoritative name server on asyncio: UDP and TCP, referrals, AXFR, NOTIFY, reload.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> wire_cache -> nameserver -> **authoritative** -> secondary

Interface (stable: the resolver, trace and propagation scenarios use it)::

    python -m learn_dns.authoritative --port P --address 127.53.0.3 \\
        --zone PATH [--zone PATH ...]        # master files, any path
        [--notify ADDR ...]                  # secondaries to NOTIFY when a zone changes
        [--secondary example.com.=ADDR ...]  # copy this zone from the primary at ADDR
        [--trace] [-v] [--loop auto|uvloop|asyncio] [--tcp-idle SECONDS] [--seed N]
        [--cache exact|question|off]         # for the benchmark: what each cache level buys

  ``--host`` is an alias of ``--address`` (default 127.0.0.1); ``--port 0``
  (the default) picks a free port, shown in the ready line.  The event loop
  is uvloop when it is installed (``--loop auto``, the default, as uvicorn
  does); ``--loop asyncio`` (or ``--no-uvloop``) selects asyncio's own loop,
  to compare.  UDP reads its socket itself (``udp_drain.py``), so both loops
  answer UDP about equally fast; TCP uses each loop's own transports.

- Every peer (NOTIFY targets, primaries) is reached on the same port P: all
  servers of one run share it, each on its own loopback address.
- Ready line, printed once UDP and TCP listen (and a secondary holds its
  first copy, or gave up waiting for it after 10 s)::

      authoritative ready on 127.53.0.3:P udp+tcp zones=example.com. loop=uvloop

- SIGHUP re-reads every ``--zone`` file; a zone whose SOA serial changed is
  announced with NOTIFY to every ``--notify`` address.  A file that no longer
  parses is reported and the old copy kept.  SIGTERM/SIGINT: exit 0.
- ``--trace`` prints one ``<``/``>`` line per query and answer; ``-v`` also
  the records.  Zone loads, reloads, NOTIFY and transfers are always printed.

Also stable, for the modules that build on this server:

- the zone files, ``Path(learn_dns.__file__).parent / "zones"``: root.zone,
  com.zone, net.zone, example.com.zone (primary .3, secondary .4),
  example.com.newdns.zone and newdns.net.zone (the new provider, .5); the
  address plan is in root.zone's header;
- the codec: ``message.Message.from_wire(data)`` (raises
  ``wire.FormatError``) and ``message.to_wire(limit=65535)``; a Message has
  ``header`` (id, qr, opcode, aa, tc, rd, ra, ad, cd, rcode), ``rcode`` (with
  EDNS's extended bits), ``questions``, ``answers``, ``authority``,
  ``additional`` (``ResourceRecord(name, rtype, rclass, ttl, rdata)``) and
  ``edns``; names are ``names.Name`` (``Name.from_text("www.example.com")``).

What each packet meets (RFC 1035 §4.2, RFC 7766):

- UDP: the hot path of ``wire_cache.py``, in two levels.  The very same
  bytes (but the ID) answered before: one dict lookup, the query's ID glued
  to the stored answer, sent.  The same question in other bytes (another
  letter case, other flags, an EDNS cookie): a cheap shape check finds the
  question's key and the stored answer is patched (ID, RD/CD, QNAME case).
  Otherwise the codec decodes the query, ``answers.respond`` builds the
  response, the codec encodes it, and both levels keep the bytes.  An answer
  bigger than the requester's UDP size (512, or EDNS's advertised size) is
  sent truncated, TC set.  ``datagram_received`` is called for each
  datagram by ``udp_drain.py``, which reads the socket until it is empty
  (64 at most per wakeup) and sends with ``sendto``: no task, no stream, no
  await on the hot path, and one trip round the event loop per burst.
- TCP: each message has a 2-byte length prefix; a connection may carry
  several queries (answered in order) and is closed after IDLE_TIMEOUT
  seconds of silence.  AXFR is served on TCP only.
- Malformed: at least a header and QR=0 -> FORMERR with the query's ID;
  shorter than a header, or a response -> dropped silently.  No packet can
  stop the server: every handler catches and reports its own exceptions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import LOOPS, run_server
from wirelab_common.ports import ensure_port_free, free_port
from wirelab_common.wiretrace import Trace, hexdump

from .names import Name
from .nameserver import AuthoritativeServer
from .udp_drain import UdpDrain
from .wire import U16
from .zone_data import ZoneError

IDLE_TIMEOUT = 10.0     # seconds a TCP connection may stay silent (RFC 7766 §6.2.3)
FIRST_COPY_WAIT = 10.0  # a secondary prints its ready line at the latest after this

class UdpServer:
    """One socket, every client: ``datagram_received`` is the hot path (no task, no stream).

    ``udp_drain.UdpDrain`` reads the socket and calls it once per datagram, a
    burst at a time; an exception it raises is reported by :meth:`packet_failed`
    and the drain goes on with the next datagram.
    """

    def __init__(self, server: AuthoritativeServer, address: str, port: int) -> None:
        self.server = server
        self.exact = server.cache.exact  # the dict itself: one attribute lookup less per packet
        self.drain = UdpDrain(address, port, self.datagram_received, self.packet_failed)
        self.send = self.drain.sendto
        server.udp = self.drain  # NOTIFY goes out through its sendto

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Level 1 (wire_cache.WireCache.exact): these very bytes were answered before.
        # (Never filled while tracing, so that every query is traced.)
        tail = self.exact.get(data[2:])
        if tail is not None:
            self.send(data[:2] + tail, addr)
            return
        for wire in self.server.answer(data, addr, tcp=False):
            self.send(wire, addr)

    def packet_failed(self, data: bytes, addr: tuple[str, int], exc: Exception) -> None:
        self.server.trace.state(f"error handling a packet from {addr}: {exc!r}", [hexdump(data)])

    def close(self) -> None:
        self.drain.close()


class TcpConnection(asyncio.Protocol):
    """DNS over TCP (RFC 1035 §4.2.2, RFC 7766): length-prefixed messages, several per connection."""

    def __init__(self, server: AuthoritativeServer, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.server = server
        self.idle_timeout = idle_timeout
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("?", 0)
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername") or ("?", 0)
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._arm_idle_timer()
        while len(self.buffer) >= 2:
            size = (self.buffer[0] << 8) | self.buffer[1]
            if len(self.buffer) < 2 + size:
                return
            message = bytes(self.buffer[2:2 + size])
            del self.buffer[:2 + size]
            try:
                responses = self.server.answer(message, self.peer, tcp=True)
            except Exception as exc:  # noqa: BLE001 - only this message is lost
                self.server.trace.state(f"error handling a TCP message from {self.peer}: {exc!r}")
                responses = []
            for wire in responses:
                self.transport.write(U16.pack(len(wire)) + wire)  # type: ignore[union-attr]

    def _arm_idle_timer(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(self.idle_timeout, self._close_idle)

    def _close_idle(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle is not None:
            self.idle.cancel()


def parse_secondary(text: str) -> tuple[Name, str]:
    zone, sep, primary = text.partition("=")
    if not sep or not zone or not primary:
        raise argparse.ArgumentTypeError(f"expected ZONE=PRIMARY_ADDRESS, got {text!r}")
    return Name.from_text(zone), primary


async def serve(args: argparse.Namespace) -> None:
    trace = Trace(args.name or args.address, verbose=args.verbose)
    port = args.port or free_port(args.address)
    ensure_port_free(args.address, port)
    ids = random.Random(args.seed)  # query ids of NOTIFY/SOA/AXFR: seeded in tests, random otherwise
    server = AuthoritativeServer(args.address, port, args.zone, args.notify, trace,
                                 args.trace or args.verbose, lambda: ids.randrange(65536), args.cache)
    try:
        server.load_files()
    except ZoneError as exc:
        raise SetupError(str(exc), "fix the master file (dnspython's error says where)") from None
    loop = asyncio.get_running_loop()
    try:
        udp = UdpServer(server, args.address, port)
        tcp = await loop.create_server(lambda: TcpConnection(server, args.tcp_idle), args.address, port,
                                       reuse_address=True)
    except OSError as exc:
        raise SetupError(f"cannot listen on {args.address}:{port}: {exc.strerror}",
                         "pick another --port or --address (any 127.x.y.z works on Linux)") from None
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.reload)
    jobs = [server.add_secondary(origin, primary) for origin, primary in args.secondary]
    if jobs:
        waits = [asyncio.create_task(job.loaded.wait()) for job in jobs]
        done, pending = await asyncio.wait(waits, timeout=FIRST_COPY_WAIT)
        for task in pending:
            task.cancel()
    zones = ",".join(str(origin) for origin in server.zones) or "none"
    print(f"authoritative ready on {args.address}:{port} udp+tcp zones={zones} loop={loop_name()}",
          flush=True)
    await stop.wait()
    tcp.close()
    udp.close()
    trace.state("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_dns.authoritative",
                                     description="An authoritative DNS server (UDP and TCP).")
    parser.add_argument("--address", "--host", dest="address", default="127.0.0.1",
                        help="address to listen on (UDP and TCP), default 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port shared by every server of a run (0: any)")
    parser.add_argument("--zone", action="append", default=[], metavar="PATH", help="master file to serve")
    parser.add_argument("--notify", action="append", default=[], metavar="ADDR",
                        help="secondary to NOTIFY when a zone's serial changes (same --port)")
    parser.add_argument("--secondary", action="append", default=[], type=parse_secondary,
                        metavar="ZONE=ADDR", help="serve ZONE as a copy transferred from the primary at ADDR")
    parser.add_argument("--trace", action="store_true", help="one line per query and answer")
    parser.add_argument("-v", "--verbose", action="store_true", help="--trace plus each answer's records")
    parser.add_argument("--name", default="", help="actor name in the trace (default: the address)")
    parser.add_argument("--seed", type=int, default=None, help="seed for query ids (tests)")
    parser.add_argument("--tcp-idle", type=float, default=IDLE_TIMEOUT, metavar="SECONDS",
                        help=f"close a silent TCP connection after this long (default {IDLE_TIMEOUT:g})")
    parser.add_argument("--cache", choices=["exact", "question", "off"], default="exact",
                        help="answer cache levels (wire_cache.py): both (default), question key only, none")
    add_loop_options(parser)
    args = parser.parse_args(argv)
    if not args.zone and not args.secondary:
        parser.error("give at least one --zone or --secondary")
    run_server(lambda: serve(args), args.loop)


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    """``--loop auto|uvloop|asyncio`` (auto: uvloop when installed), as every wirelab server has."""
    parser.add_argument("--loop", choices=LOOPS, default="auto",
                        help="event loop: uvloop when installed (auto, the default) or asyncio's own")
    parser.add_argument("--no-uvloop", dest="loop", action="store_const", const="asyncio",
                        help="the same as --loop asyncio (to compare the two loops)")
    parser.add_argument("--uvloop", dest="loop", action="store_const", const="uvloop",
                        help=argparse.SUPPRESS)  # the old flag, still accepted: --loop uvloop


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: which event loop this process runs on (for the ready line)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


if __name__ == "__main__":
    main()
