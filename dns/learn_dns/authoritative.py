"""An authoritative name server on asyncio: the driver of ``nameserver.py``'s core.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
answers -> notify -> nameserver -> **authoritative** -> secondary -> wire_cache

Interface (stable: the resolver, trace and propagation scenarios use it)::

    python -m learn_dns.authoritative --host 127.53.0.3 --port P \\
        --zone PATH [--zone PATH ...]        # master files, any path
        [--notify ADDR ...]                  # secondaries to NOTIFY when a zone changes
        [--secondary example.com.=ADDR ...]  # copy this zone from the primary at ADDR
        [-q | -v] [--loop auto|uvloop|asyncio] [--tcp-idle SECONDS] [--seed N] [--name NAME]
        [--cache fast|question|off]          # the answer cache of wire_cache.py (default fast)
        [--allow-update CIDR ...]            # accept RFC 2136 UPDATE from these sources (default none)
        [--tsig-key NAME:BASE64 ...]         # ...or signed with this HMAC-SHA256 key (RFC 8945)

  ``--host`` defaults to 127.0.0.1, ``--port`` to 5300; ``--port 0`` picks a
  free port, named in the ready line.  The event loop is uvloop when it is
  installed (``--loop auto``, the default, as uvicorn does); ``--loop
  asyncio`` selects asyncio's own loop, to compare.  UDP reads its socket
  itself (``udp_drain.py``), so both loops answer UDP about equally fast; TCP
  uses each loop's own transports.

- Every peer (NOTIFY targets, primaries) is reached on the same port P: all
  servers of one hierarchy run share it, each on its own loopback address
  (``hierarchy.py``).  A server started alone may take ``--port 0``.
- Ready line, printed once UDP and TCP listen (and a secondary holds its
  first copy, or gave up waiting for it after 10 s), after a line naming the
  zones and the event loop::

      = 127.53.0.3 serving example.com. over udp+tcp, loop=uvloop
      = 127.53.0.3 listening on udp://127.53.0.3:P

- SIGHUP re-reads every ``--zone`` file; a zone whose SOA serial changed is
  announced with NOTIFY to every ``--notify`` address.  A file that no longer
  parses is reported and the old copy kept.  SIGTERM/SIGINT: exit 0.
- UPDATE (opcode 5, RFC 2136, ``update.py``): accepted only if signed with
  a ``--tsig-key`` (RFC 8945, HMAC-SHA256, ``tsig.py``: a bad signature is
  NOTAUTH) or sent from a source address inside an ``--allow-update``
  network (neither by default: REFUSED), and only for a zone this server is
  primary for (else NOTAUTH).  A change
  is installed at once, the serial bumped, and announced with NOTIFY like a
  reload.  It lives in memory only: SIGHUP re-reads the file and forgets it.
- The trace shows one ``<`` line per query and one ``>`` per answer, zone
  loads, reloads, NOTIFY and transfers; ``-v`` adds each answer's records;
  ``-q`` shows nothing but the ready line and errors (the benchmark runs so).
- ``--cache``: ``fast`` (the default) puts both levels of ``wire_cache.py``
  in front of the plain path and reads UDP with ``udp_batch.py`` (where
  ``recvmmsg`` exists), ``question`` only the question level, ``off`` none: the
  plain path of ``nameserver.py`` and ``udp_drain.py`` alone, the lesson.  The
  answers are the same bytes in every mode; only the speed differs (the
  README's benchmark).

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

- UDP: ``datagram_received`` is called for each datagram by ``udp_drain.py``,
  which reads the socket until it is empty (64 at most per wakeup) and sends
  with ``sendto``: no task, no stream, no await on the hot path.  With
  ``--cache fast``, ``udp_batch.py`` reads and writes 64 datagrams per system
  call instead, and a question answered before (in any letter case, with any
  ID) is answered from ``wire_cache.py``'s folded level without parsing; the
  rest go to ``datagram_received``, where the answerer
  (``wire_cache.CachedAnswers`` or the core itself) returns the bytes.  An
  answer bigger than the requester's UDP size (512, or EDNS's advertised
  size) is sent truncated, TC set.
- TCP: each message has a 2-byte length prefix; a connection may carry
  several queries (answered in order) and is closed after IDLE_TIMEOUT
  seconds of silence.  AXFR is served on TCP only.
- Malformed: at least a header and QR=0 -> FORMERR with the query's ID;
  shorter than a header, or a response -> dropped silently.  No packet can
  stop the server: every handler catches and reports its own exceptions.
- Actions (``notify.py``): after a reload, a timer or a message, the driver
  performs what the core returned: sends a NOTIFY, arms a retry timer, wakes
  a secondary's refresh, traces an acknowledgement or a give-up.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import random
import signal
import time
from typing import Protocol

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace, hexdump

from . import udp_batch
from .names import Name
from .nameserver import AuthoritativeServer
from .notify import Acknowledged, Action, GaveUp, RefreshZone, RetryAt, SendNotify
from .peers import add_peer_names
from .secondary import SecondaryZone
from .tsig import Key
from .udp_drain import UdpDrain, loop_name
from .wire import U16
from .wire_cache import CachedAnswers
from .zone_data import ZoneError

DEFAULT_PORT = 5300
IDLE_TIMEOUT = 10.0     # seconds a TCP connection may stay silent (RFC 7766 §6.2.3)
FIRST_COPY_WAIT = 10.0  # a secondary prints its ready line at the latest after this
BIND_TRIES = 5          # --port 0: UDP picks a port, TCP must get the same one


class Answerer(Protocol):
    """The core (``AuthoritativeServer``) or the cache in front of it (``CachedAnswers``)."""

    def answer(self, data: bytes, peer: tuple[str, int], tcp: bool) -> list[bytes]: ...


class UdpServer:
    """One socket, every client: ``datagram_received`` is the hot path (no task, no stream).

    ``udp_drain.UdpDrain`` reads the socket and calls it once per datagram, a
    burst at a time; an exception it raises is reported by :meth:`packet_failed`
    and the drain goes on with the next datagram.
    """

    def __init__(self, driver: Driver, drain: UdpDrain) -> None:
        self.driver = driver
        self.answer = driver.answerer.answer
        self.drain = drain
        self.send = drain.sendto
        # wire_cache's folded level (--cache fast), unless the batch drain asks it itself
        batched = isinstance(drain, udp_batch.BatchDrain)
        self.fast = None if batched else getattr(driver.answerer, "fast", None)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.fast is not None:
            wire = self.fast(data)
            if wire is not None:
                self.send(wire, addr)
                return
        for wire in self.answer(data, addr, False):
            self.send(wire, addr)
        if self.driver.server.actions:
            self.driver.perform(self.driver.server.take_actions())

    def packet_failed(self, data: bytes, addr: tuple[str, int], exc: Exception) -> None:
        self.driver.server.trace.state(f"error handling a packet from {addr}: {exc!r}", [hexdump(data)])


class TcpConnection(asyncio.Protocol):
    """DNS over TCP (RFC 1035 §4.2.2, RFC 7766): length-prefixed messages, several per connection."""

    def __init__(self, driver: Driver, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.driver = driver
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
                responses = self.driver.answerer.answer(message, self.peer, True)
            except Exception as exc:  # noqa: BLE001 - only this message is lost
                self.driver.server.trace.state(f"error handling a TCP message from {self.peer}: {exc!r}")
                responses = []
            for wire in responses:
                self.transport.write(U16.pack(len(wire)) + wire)  # type: ignore[union-attr]
            self.driver.perform(self.driver.server.take_actions())

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


class Driver:
    """Performs the core's actions: datagrams, timers, secondaries' wake-ups, trace lines."""

    def __init__(self, server: AuthoritativeServer, answerer: Answerer, host: str, port: int) -> None:
        self.server = server
        self.answerer = answerer
        self.host = host
        self.port = port  # every peer listens on the same port (hierarchy.py)
        self.loop = asyncio.get_running_loop()
        self.udp: UdpDrain | None = None
        self.secondaries: dict[Name, SecondaryZone] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def perform(self, actions: list[Action]) -> None:
        trace = self.server.trace
        for action in actions:
            if isinstance(action, SendNotify):
                trace.sent(f"NOTIFY {action.origin} serial {action.serial} to {action.target}:{self.port} "
                           f"(try {action.attempt})", peer=self.server.peer_names(action.target),
                           cid=str(int.from_bytes(action.wire[:2], "big")))
                if self.udp is not None:
                    self.udp.sendto(action.wire, (action.target, self.port))
            elif isinstance(action, RetryAt):
                self.loop.call_at(self.loop.time() + max(action.when - time.monotonic(), 0), self.timer,
                                  action.query_id, action.target)
            elif isinstance(action, Acknowledged):
                trace.received(f"NOTIFY acknowledged by {action.target}",
                               peer=self.server.peer_names(action.target))
            elif isinstance(action, GaveUp):
                trace.state(f"NOTIFY {action.origin} to {action.target}: no acknowledgement after "
                            f"{action.attempts} tries, giving up")
            elif isinstance(action, RefreshZone) and action.origin in self.secondaries:
                self.secondaries[action.origin].notified()

    def timer(self, query_id: int, target: str) -> None:
        self.perform(self.server.notify_timer(query_id, target, time.monotonic()))

    def reload(self) -> None:
        self.perform(self.server.reload(time.monotonic()))

    def add_secondary(self, origin: Name, primary: str, next_id) -> SecondaryZone:
        self.server.primaries[origin] = primary
        job = SecondaryZone(origin, primary, self.port, self.host, self.server.install, self.server.trace,
                            next_id)
        self.secondaries[origin] = job
        task = self.loop.create_task(job.run())
        self._tasks.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
        return job


async def listen(driver: Driver, host: str, port: int, tcp_idle: float) -> tuple[UdpServer, asyncio.Server]:
    """UDP and TCP on the same port; with ``port`` 0, the one the kernel gave UDP."""
    loop = asyncio.get_running_loop()
    fast = getattr(driver.answerer, "fast", None)  # wire_cache's folded level, with --cache fast
    for attempt in range(BIND_TRIES):
        if fast is not None and udp_batch.available():
            drain = udp_batch.BatchDrain(host, port, lambda data, addr: None, lambda data, addr, exc: None,
                                         fast)
        else:
            drain = UdpDrain(host, port, lambda data, addr: None, lambda data, addr, exc: None)
        try:
            tcp = await loop.create_server(lambda: TcpConnection(driver, tcp_idle), host, drain.port,
                                           reuse_address=True)
        except OSError:
            drain.close()
            if port or attempt == BIND_TRIES - 1:
                raise
            continue  # that port was free for UDP only: let the kernel pick another
        udp = UdpServer(driver, drain)
        drain.handle, drain.on_error = udp.datagram_received, udp.packet_failed
        driver.udp, driver.port = drain, drain.port
        return udp, tcp
    raise AssertionError("unreachable")


async def serve(args: argparse.Namespace) -> None:
    trace = Trace(args.name or args.host, verbose=args.verbose, quiet=args.quiet)
    ids = random.Random(args.seed)  # query ids of NOTIFY/SOA/AXFR: seeded in tests, random otherwise
    next_id = lambda: ids.randrange(65536)  # noqa: E731
    server = AuthoritativeServer(args.zone, args.notify, trace, not args.quiet, next_id)
    server.peer_names.update(args.peer_name)
    server.update_from = args.allow_update
    server.tsig_keys = {key.name: key for key in args.tsig_key}
    answerer: Answerer = server if args.cache == "off" else CachedAnswers(server, args.cache)
    try:
        server.load_files()
    except ZoneError as exc:
        raise SetupError(str(exc), "fix the master file (dnspython's error says where)") from None
    driver = Driver(server, answerer, args.host, args.port)
    try:
        udp, tcp = await listen(driver, args.host, args.port, args.tcp_idle)
    except OSError as exc:
        raise SetupError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
                         "pick another --port or --host (any 127.x.y.z works on Linux)") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, driver.reload)
    jobs = [driver.add_secondary(origin, primary, next_id) for origin, primary in args.secondary]
    if jobs:
        waits = [asyncio.create_task(job.loaded.wait()) for job in jobs]
        done, pending = await asyncio.wait(waits, timeout=FIRST_COPY_WAIT)
        for task in pending:
            task.cancel()
    zones = ",".join(str(origin) for origin in server.zones) or "none"
    trace.state(f"serving {zones} over udp+tcp, loop={loop_name()}, cache {args.cache}")
    announce(trace, f"udp://{args.host}:{driver.port}")
    await stop.wait()
    tcp.close()
    udp.drain.close()
    trace.state("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_dns.authoritative",
                                     description="An authoritative DNS server (UDP and TCP).")
    add_server_options(parser, port=DEFAULT_PORT)
    parser.add_argument("--zone", action="append", default=[], metavar="PATH", help="master file to serve")
    parser.add_argument("--notify", action="append", default=[], metavar="ADDR",
                        help="secondary to NOTIFY when a zone's serial changes (same --port)")
    parser.add_argument("--secondary", action="append", default=[], type=parse_secondary,
                        metavar="ZONE=ADDR", help="serve ZONE as a copy transferred from the primary at ADDR")
    parser.add_argument("--name", default="", help="actor name in the trace (default: the address)")
    add_peer_names(parser)
    parser.add_argument("--seed", type=int, default=None, help="seed for query ids (tests)")
    parser.add_argument("--tcp-idle", type=float, default=IDLE_TIMEOUT, metavar="SECONDS",
                        help=f"close a silent TCP connection after this long (default {IDLE_TIMEOUT:g})")
    parser.add_argument("--cache", choices=["fast", "question", "off"], default="fast",
                        help="answer cache of wire_cache.py: both levels and udp_batch.py's socket "
                             "(default), the question-key level only, or none (the plain path of "
                             "nameserver.py alone)")
    parser.add_argument("--allow-update", action="append", default=[], type=ipaddress.ip_network,
                        metavar="CIDR", help="accept dynamic UPDATE (RFC 2136) from these source networks, "
                                             "e.g. 127.0.0.0/8 (default: none, every UPDATE is REFUSED)")
    parser.add_argument("--tsig-key", action="append", default=[], type=Key.from_text, metavar="NAME:BASE64",
                        help="accept dynamic UPDATE signed with this HMAC-SHA256 key (RFC 8945), "
                             "from anywhere; the same as nsupdate -y hmac-sha256:NAME:BASE64")
    args = parser.parse_args(argv)
    if not args.zone and not args.secondary:
        parser.error("give at least one --zone or --secondary")
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
