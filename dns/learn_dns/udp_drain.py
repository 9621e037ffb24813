"""A UDP socket read straight from the event loop: each wakeup drains it, a bounded batch at a time.

Reading order: a helper of the two servers' drivers; read it with
``authoritative.py`` (the authoritative server) or ``recursive/server.py``
(the resolver).  The DNS side is RFC 1035 §4.2.1: one message per datagram,
so one datagram in is (at most) one answer out, with no stream to keep.

Why not asyncio's ``DatagramProtocol``?  asyncio's own loop reads *one*
datagram each time the selector says the socket is readable, then goes round
the whole loop (``select``, the ready queue, timers) before reading the next.
A cached DNS answer costs a few microseconds, so that round trip was most of
the work: under 30k queries/s on asyncio's loop against 110-125k on uvloop, whose
C transport reads in a tight loop of its own (the README's benchmark).  Here the socket is registered
with ``loop.add_reader`` and the callback reads until the kernel says
"nothing more" (``BlockingIOError``), so a burst costs one loop iteration:

- **bounded**: at most ``batch`` datagrams per wakeup; if more are waiting
  the selector reports the socket readable again next iteration, after TCP
  connections, timers and tasks (NOTIFY retries, zone transfers) had a turn;
- **robust**: the handler is called inside ``try``; an exception is reported
  through ``on_error`` and the drain goes on with the next datagram (one
  packet that trips a bug must never stop the server: see test_dns_fuzz.py);
- **sending**: ``sendto`` straight on the socket.  When the kernel's send
  buffer is full (``BlockingIOError``) the answer is *dropped* and counted,
  not queued: UDP promises no delivery, every DNS client retries after its
  timeout, and a queue would only grow while the server is already behind
  (the answer would reach a client that has given up or retried).  asyncio's
  transport would buffer it without bound instead.

Same code on uvloop: ``add_reader`` works there too, and measured as fast
as uvloop's own datagram transport; with it asyncio's loop caught up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

Address = tuple[str, int]
Handler = Callable[[bytes, Address], None]
ErrorHandler = Callable[[bytes, Address, Exception], None]

BATCH = 64        # datagrams per wakeup: large enough to amortise the loop, small enough to share it
MAX_DATAGRAM = 65535  # never truncate: recvfrom(65535) measured as fast as recvfrom(4096) here


class UdpDrain:
    """A bound, non-blocking UDP socket whose datagrams go to ``handle(data, addr)``.

    ``sendto(data, addr)`` has the signature of asyncio's datagram transport, so
    code written for one (``authoritative.py``'s NOTIFY) works with the other.
    """

    def __init__(self, address: str, port: int, handle: Handler, on_error: ErrorHandler,
                 batch: int = BATCH) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.bind((address, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.handle = handle
        self.on_error = on_error
        self.batch = batch
        self.dropped = 0  # answers the kernel had no room for (see the module docstring)
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        recvfrom, handle = self.sock.recvfrom, self.handle  # locals: looked up once per wakeup
        for _ in range(self.batch):
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return  # drained: back to the event loop
            except OSError:
                continue  # e.g. an ICMP error queued on the socket: nothing to answer
            try:
                handle(data, addr)
            except Exception as exc:  # noqa: BLE001 - one bad packet must never stop the drain
                self.on_error(data, addr, exc)

    def sendto(self, data: bytes, addr: Address) -> bool:
        """Send one datagram now; False (and counted) if the kernel could not take it."""
        try:
            self.sock.sendto(data, addr)
            return True
        except (BlockingIOError, InterruptedError):
            self.dropped += 1  # send buffer full: drop, the client retries (module docstring)
        except OSError:
            self.dropped += 1  # e.g. no route to that address: nothing better to do for UDP
        return False

    @property
    def closed(self) -> bool:
        return self.sock.fileno() < 0

    def close(self) -> None:
        if not self.closed:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: which event loop this process runs on (for the trace)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
