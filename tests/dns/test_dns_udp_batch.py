"""udp_batch.py: recvmmsg/sendmmsg beside the lesson's drain, and the fast path over real sockets.

In-process: the batch drain answers what ``fast`` answers, hands the rest to
``handle`` with the sender's address, survives a raising handler, and sends
each reply to the datagram's own sender.  Over sockets: the server with
``--cache fast`` (folded level + batch drain, the benchmark's path) and with
``--cache off`` (the lesson) get the same bursts of queries (names in random
letter case, types, NXDOMAIN, EDNS sizes and DO, malformed packets) and must
send the same bytes back.
"""

from __future__ import annotations

import random
import socket
import struct
import sys
from pathlib import Path

import dns.flags
import dns.message
import pytest

import learn_dns
from learn_dns import udp_batch
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async

pytestmark = [pytest.mark.loopback,
              pytest.mark.skipif(not udp_batch.available(), reason="recvmmsg/sendmmsg: Linux only")]

ZONES = Path(learn_dns.__file__).parent / "zones"
NAMES = ["www.example.com", "mail.example.com", "ftp.example.com", "big.example.com", "example.com",
         "nope.example.com", "deep.nope.example.com", "_validation-persist.example.com", "www.example.org"]
TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "TYPE65", "ANY"]
EDNS = [{}, {"use_edns": 0}, {"use_edns": 0, "payload": 512}, {"use_edns": 0, "payload": 1232},
        {"use_edns": 0, "want_dnssec": True, "payload": 4096}, {"use_edns": 1}]


async def test_the_batch_drain_answers_fast_ones_hands_on_the_rest_and_replies_to_each_sender():
    handled: list[tuple[bytes, tuple[str, int]]] = []
    failed: list[bytes] = []

    def fast(data: bytes) -> bytes | None:
        if data.startswith(b"boom"):
            raise ValueError("a bug triggered by this packet")
        return b"fast:" + data if data.startswith(b"f") else None

    def handle(data: bytes, addr: tuple[str, int]) -> None:
        handled.append((data, addr))
        drain.sendto(b"slow:" + data, addr)

    drain = udp_batch.BatchDrain("127.0.0.1", 0, handle, lambda data, addr, exc: failed.append(data), fast,
                                 batch=8)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for client in clients:
            client.settimeout(5)
            client.connect(("127.0.0.1", drain.port))
        sent: list[list[bytes]] = [[], []]
        for i in range(30):
            packet = [b"f%d" % i, b"s%d" % i, b"boom"][i % 3]
            clients[i % 2].send(packet)
            sent[i % 2].append(packet)
        await eventually_async(lambda: len(handled) + len(failed) >= 10, 5, "the slow ones handled",
                               interval=0.01)
        assert failed == [b"boom"] * 10
        assert {addr for _, addr in handled} == {c.getsockname() for c in clients}
        for client, packets in zip(clients, sent, strict=True):
            expected = sorted((b"fast:" if p[:1] == b"f" else b"slow:") + p for p in packets if p != b"boom")
            assert sorted(client.recv(100) for _ in expected) == expected  # each reply to its own sender
    finally:
        for client in clients:
            client.close()
        drain.close()


def start(cache: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--host", "127.0.0.1", "--port", "0", "-q",
            "--zone", str(ZONES / "example.com.zone"), "--cache", cache]
    return start_server(argv, name=f"auth-{cache}", timeout=30)


def query(rng: random.Random, qid: int) -> bytes:
    name = "".join(c.upper() if rng.random() < 0.5 else c for c in rng.choice(NAMES))
    message = dns.message.make_query(name, rng.choice(TYPES), **rng.choice(EDNS))
    message.flags = rng.choice([0, dns.flags.RD, dns.flags.RD | dns.flags.CD, dns.flags.AD])
    wire = bytearray(message.to_wire())
    if rng.random() < 0.15:  # malformed: cut, a flipped byte, or bytes appended
        kind = rng.randrange(3)
        if kind == 0:
            wire = wire[:rng.randrange(12, len(wire))]
        elif kind == 1:
            wire[rng.randrange(2, len(wire))] = rng.randrange(256)
        else:
            wire += rng.randbytes(rng.randrange(1, 6))
    struct.pack_into("!H", wire, 0, qid)
    return bytes(wire)


def recased(rng: random.Random, packet: bytes) -> bytes:
    """``packet`` with the letter case of its bytes after the header chosen anew (a later 0x20 query)."""
    body = bytes(b ^ 0x20 if (65 <= b <= 90 or 97 <= b <= 122) and rng.random() < 0.5 else b
                 for b in packet[12:])
    return packet[:12] + body


def replies(sock: socket.socket, packets: list[bytes]) -> dict[int, bytes]:
    """Send a burst, collect the replies by ID (each packet of a burst has its own ID)."""
    for packet in packets:
        sock.send(packet)
    out: dict[int, bytes] = {}
    expected = sum(1 for p in packets if not p[2] & 0x80)  # a response (QR=1) is never answered
    try:
        while len(out) < expected:
            reply = sock.recv(65535)
            out[struct.unpack_from("!H", reply)[0]] = reply
    except TimeoutError:
        pass  # a reply lost on loopback under load: compared below on what both sent
    return out


def test_the_fast_path_sends_the_lessons_bytes_over_udp():
    rng = random.Random(27)
    with start("fast") as fast, start("off") as plain, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as to_fast, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as to_plain:
        for sock, server in ((to_fast, fast), (to_plain, plain)):
            sock.settimeout(2)
            sock.connect(("127.0.0.1", server.port))
        compared = 0
        packets: list[bytes] = []
        for burst in range(40):
            if burst % 2:  # the same questions again, in other letter cases: the folded level's hits
                packets = [recased(rng, packet) for packet in packets]
            else:
                packets = [query(rng, qid) for qid in range(60)]
            ours, lesson = replies(to_fast, packets), replies(to_plain, packets)
            both = ours.keys() & lesson.keys()
            assert len(both) >= 0.9 * len(lesson)
            for qid in both:
                assert ours[qid] == lesson[qid], (qid, packets[qid].hex())
            compared += len(both)
        assert compared > 2000
        assert fast.alive() and plain.alive()
