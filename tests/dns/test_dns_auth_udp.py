"""The authoritative server's UDP path (udp_drain.py) on both event loops.

The socket is read with ``loop.add_reader`` and drained in bursts, on uvloop
and on asyncio's own loop alike: both must answer, answer FORMERR to garbage
with a header, stay silent for the rest, and keep going after a burst of it.
The drain itself is tested in-process: a handler that raises must not stop
it, and one wakeup reads at most one batch.
"""

from __future__ import annotations

import random
import socket
import struct
import sys
from pathlib import Path

import dns.message
import pytest

import learn_dns
from learn_dns.message import Message
from learn_dns.udp_drain import UdpDrain
from learn_dns.wire import FormatError
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback

ZONES = Path(learn_dns.__file__).parent / "zones"
SERVER = "127.53.0.3"


async def test_a_raising_handler_costs_one_packet_and_a_wakeup_reads_at_most_a_batch():
    handled: list[bytes] = []
    failed: list[bytes] = []

    def handle(data: bytes, addr: tuple[str, int]) -> None:
        if data.startswith(b"bad"):
            raise ValueError("a bug triggered by this packet")
        handled.append(data)
        drain.sendto(data.upper(), addr)

    drain = UdpDrain("127.0.0.1", 0, handle, lambda data, addr, exc: failed.append(data), batch=4)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.connect(("127.0.0.1", drain.port))
            packets = [b"bad" if i % 3 == 0 else b"ok%d" % i for i in range(10)]
            for packet in packets:
                client.send(packet)  # on loopback each is queued at the server before send returns
            drain._readable()  # one wakeup, by hand (the loop has not run since the sends)
            assert len(handled) + len(failed) == 4
            # the loop drains the rest, batch by batch
            await eventually_async(lambda: len(handled) + len(failed) == 10, 5, "all 10 datagrams handled",
                                   interval=0.01)
            assert failed == [b"bad"] * 4
            assert handled == [p for p in packets if p != b"bad"]
            echoes = sorted(client.recv(100) for _ in handled)
            assert echoes == sorted(p.upper() for p in handled)
    finally:
        drain.close()
    assert drain.closed


def start_auth(*args: str) -> ManagedProcess:
    """One authoritative server alone, on a port of its own (``--port 0``: the ready line names it)."""
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--host", SERVER, "--port", "0",
            "--zone", str(ZONES / "example.com.zone"), *args]
    return start_server(argv, name="auth-udp", timeout=30)


def garbage(rng: random.Random, count: int) -> list[bytes]:
    """Valid queries cut short, bytes flipped, counts changed, or plain random bytes."""
    query = dns.message.make_query("www.example.com", "A", use_edns=0).to_wire()
    out = []
    for _ in range(count):
        packet = bytearray(query)
        kind = rng.randrange(4)
        if kind == 0:
            packet = packet[:rng.randrange(len(packet))]
        elif kind == 1:
            for _ in range(rng.randrange(1, 4)):
                packet[rng.randrange(12, len(packet))] = rng.randrange(256)
        elif kind == 2:
            struct.pack_into("!HHHH", packet, 4, *(rng.randrange(4) for _ in range(4)))
        else:
            packet = bytearray(rng.randbytes(rng.randrange(40)))
        out.append(bytes(packet))
    return out


def rejected(packet: bytes) -> bool:
    try:
        Message.from_wire(packet)
    except FormatError:
        return True
    return False


def ask(sock: socket.socket, name: str = "www.example.com") -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    sock.send(query.to_wire())
    while True:  # skip late replies to the garbage
        response = dns.message.from_wire(sock.recv(65535))
        if response.id == query.id:
            return response


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_each_loop_answers_and_survives_a_burst_of_malformed_packets(loop):
    pytest.importorskip(loop)
    packets = garbage(random.Random(7), 600)
    with start_auth("--loop", loop) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        port = server.port
        assert f"loop={loop}" in server.output()
        sock.settimeout(5)
        sock.connect((SERVER, port))
        assert ask(sock).answer[0][0].to_text() == "192.0.2.10"
        formerr_due = replies = formerr = 0
        for start in range(0, len(packets), 100):  # sent in bursts, each drained in a few wakeups
            due: set[int] = set()
            for qid, packet in enumerate(packets[start:start + 100], start):
                if len(packet) >= 2:
                    packet = struct.pack("!H", qid) + packet[2:]
                if len(packet) >= 12 and not packet[2] & 0x80:
                    due.add(qid)
                    formerr_due += rejected(packet)
                sock.send(packet)
            for _ in range(len(due)):
                try:
                    reply = sock.recv(65535)
                except TimeoutError:
                    break  # a datagram lost under load: allowed for a few, below
                replies += 1
                formerr += reply[3] & 0xF == 1
        assert ask(sock).answer[0][0].to_text() == "192.0.2.10"  # still answering
        assert server.alive()
        assert "error handling" not in server.output(), server.output()[-2000:]
    assert formerr_due > 100
    assert formerr >= formerr_due * 0.9  # UDP may lose a few under load; most must arrive


def test_the_asyncio_loop_traces_each_query_and_its_records_with_v():
    with start_auth("--loop", "asyncio", "-v") as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        port = server.port
        sock.settimeout(5)
        sock.connect((SERVER, port))
        for _ in range(2):  # the second time too: tracing keeps the exact-bytes cache empty
            assert ask(sock).answer[0][0].to_text() == "192.0.2.10"
        server.wait_line(r"query www\.example\.com\. A from 127\.0\.0\.1")
        server.wait_line(r"answer: www\.example\.com\..*192\.0\.2\.10")
        server.wait_line(r"\(from cache\)")


def test_a_silent_tcp_connection_is_closed_after_the_idle_timeout():
    with start_auth("--tcp-idle", "0.3") as server:
        with socket.create_connection((SERVER, server.port), timeout=10) as sock:
            assert sock.recv(1) == b""  # EOF: the server closed it (the 10 s timeout would fail first)
