"""Speed beside the lesson: a UDP socket read and written many datagrams per system call.

Reading order: after ``udp_drain.py`` (the lesson's socket loop, one
``recvfrom`` and one ``sendto`` per datagram), whose interface this module
keeps; ``authoritative.py`` and ``recursive/server.py`` pick it when their
fast path is on (the default) and the system has ``recvmmsg``.  Nothing here
changes an answer: each datagram still gets exactly the bytes it would get
from the lesson's drain, only fewer system calls carry them.

A cached DNS answer costs a microsecond or two of Python; the two system
calls around it cost more.  Linux has ``recvmmsg(2)`` and ``sendmmsg(2)``,
which move a whole vector of datagrams per call (what C servers such as
Knot DNS use); Python's ``socket`` module does not wrap them, so they are
called through ``ctypes`` on buffers allocated once:

- ``batch`` receive slots of :data:`SLOT` bytes (a datagram of any size fits)
  with one ``sockaddr`` each; one ``recvmmsg`` fills up to ``batch`` of them;
- each datagram goes to ``fast(data)`` (or ``fast(data, source)``, the
  sender's address as 4 or 16 raw bytes), which returns the answer's bytes or
  None.  An answer is copied into the send slot of the same rank, with the
  sender's address copied as it came (no decoding), and one ``sendmmsg``
  sends them all;
- None means "not a case for the fast path": the address is decoded and the
  datagram goes to ``handle(data, addr)`` exactly as in ``udp_drain.py``
  (which answers with ``sendto``, at once).

Bounded and robust as the lesson's drain: at most ``rounds`` vectors per
wakeup, exceptions reported through ``on_error`` and the next datagram
served; answers the kernel does not take are dropped and counted.
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Callable

from .udp_drain import Address, ErrorHandler, Handler, UdpDrain

Fast = Callable[..., "bytes | None"]  # fast(data), or fast(data, source address bytes)

SLOT = 65536        # bytes per datagram slot: the largest UDP payload fits, nothing is cut
NAME = 128          # bytes per address slot (sizeof struct sockaddr_storage)
SEND_SLOT = 4096    # an answer larger than this is sent on its own with sendto
BATCH = 64          # datagrams per system call
ROUNDS = 4          # system calls per wakeup at most, then the event loop has a turn
MSG_DONTWAIT = 0x40
MSG_TRUNC = 0x20


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]


def _libc_calls() -> tuple[Callable, Callable] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        recvmmsg, sendmmsg = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):  # not Linux (or no such symbols): the lesson's drain is used
        return None
    # int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout);
    # int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
    recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    recvmmsg.restype = sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


CALLS = _libc_calls()


def available() -> bool:
    """True where ``recvmmsg`` and ``sendmmsg`` can be called (Linux)."""
    return CALLS is not None


class Vector:
    """``count`` message headers, each with one buffer of ``slot`` bytes and an address slot."""

    def __init__(self, count: int, slot: int, namelen: int) -> None:
        self.data = ctypes.create_string_buffer(count * slot)
        self.names = ctypes.create_string_buffer(count * NAME)
        self.iovs = (IoVec * count)()
        self.msgs = (MMsgHdr * count)()
        base, names = ctypes.addressof(self.data), ctypes.addressof(self.names)
        for i in range(count):
            self.iovs[i].base, self.iovs[i].len = base + i * slot, slot
            hdr = self.msgs[i].hdr
            hdr.name, hdr.namelen = names + i * NAME, namelen
            hdr.iov, hdr.iovlen = ctypes.addressof(self.iovs[i]), 1
        # Flat views for the hot loop: item access on a memoryview is much cheaper than
        # a ctypes field.  MMsgHdr is 64 bytes: msg_len is 32-bit word 14 of 16, msg_flags word 12.
        self.buffer = memoryview(self.data).cast("B")
        self.name_bytes = memoryview(self.names).cast("B")
        self.words = memoryview(self.msgs).cast("B").cast("I")
        self.iov_words = memoryview(self.iovs).cast("B").cast("Q")  # iovec: base, len
        self.address = ctypes.addressof(self.msgs)


class BatchDrain(UdpDrain):
    """:class:`~learn_dns.udp_drain.UdpDrain` with a fast path and ``recvmmsg``/``sendmmsg``.

    ``fast(data)`` answers what it can (bytes) and declines the rest (None),
    which goes to ``handle(data, addr)`` as with the lesson's drain.
    """

    def __init__(self, address: str, port: int, handle: Handler, on_error: ErrorHandler, fast: Fast,
                 batch: int = BATCH, with_source: bool = False) -> None:
        if CALLS is None:
            raise OSError("recvmmsg/sendmmsg are not available here")
        super().__init__(address, port, handle, on_error, batch)
        self.fast = fast
        self.with_source = with_source  # fast(data, source): the sender's raw address, 4 or 16 bytes
        self.family = self.sock.family
        namelen = 16 if self.family == socket.AF_INET else 28  # sockaddr_in, sockaddr_in6
        self.recv = Vector(batch, SLOT, namelen)
        self.send = Vector(batch, SEND_SLOT, namelen)
        self.namelen = namelen
        self.fd = self.sock.fileno()

    def _address(self, i: int) -> Address:
        name = bytes(self.recv.name_bytes[i * NAME:i * NAME + self.namelen])
        port = int.from_bytes(name[2:4], "big")
        if self.family == socket.AF_INET:
            return socket.inet_ntop(socket.AF_INET, name[4:8]), port
        return socket.inet_ntop(socket.AF_INET6, name[8:24]), port  # type: ignore[return-value]

    def _readable(self) -> None:
        recvmmsg, sendmmsg = CALLS  # type: ignore[misc]
        recv, send, fast, batch, with_source = self.recv, self.send, self.fast, self.batch, self.with_source
        src_start, src_end = (4, 8) if self.family == socket.AF_INET else (8, 24)  # in the sockaddr
        rbuf, rwords, rnames = recv.buffer, recv.words, recv.name_bytes
        sbuf, swords, snames = send.buffer, send.iov_words, send.name_bytes
        for _ in range(ROUNDS):
            count = recvmmsg(self.fd, recv.address, batch, MSG_DONTWAIT, None)
            if count <= 0:
                return  # drained (EAGAIN), or an error such as a queued ICMP one: the next wakeup goes on
            ready = 0
            for i in range(count):
                size = rwords[i * 16 + 14]
                if rwords[i * 16 + 12] & MSG_TRUNC:  # cannot happen with SLOT = 65536; never answer a cut one
                    continue
                start = i * SLOT
                data = rbuf[start:start + size].tobytes()
                try:
                    if with_source:
                        wire = fast(data, rnames[i * NAME + src_start:i * NAME + src_end].tobytes())
                    else:
                        wire = fast(data)
                    if wire is None or len(wire) > SEND_SLOT:
                        addr = self._address(i)
                        if wire is None:
                            self.handle(data, addr)
                        else:
                            self.sendto(wire, addr)
                        continue
                except Exception as exc:  # noqa: BLE001 - one bad packet must never stop the drain
                    self.on_error(data, self._address(i), exc)
                    continue
                start = ready * SEND_SLOT
                sbuf[start:start + len(wire)] = wire
                swords[ready * 2 + 1] = len(wire)
                snames[ready * NAME:ready * NAME + 28] = rnames[i * NAME:i * NAME + 28]  # reply to the sender
                ready += 1
            if ready:
                sent = sendmmsg(self.fd, send.address, ready, MSG_DONTWAIT)
                if sent < ready:
                    self.dropped += ready - max(sent, 0)  # send buffer full: dropped, as udp_drain.py
            # No return when count < batch: the clients answered may have sent their next
            # queries meanwhile, and one more recvmmsg is cheaper than a trip round the loop.
