"""Robustness on loopback: malformed packets by the thousand at a running server and resolver.

The packets are those of ``test_dns_fuzz_codec.py`` (mutations of valid
messages, seeded).  A server must answer FORMERR to every packet with a
readable header that the codec rejects, stay silent for the rest of the
garbage, never log an unexpected error, and still answer a valid query
afterwards.
"""

from __future__ import annotations

import random
import socket
import struct
import sys
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

import learn_dns
from learn_dns.message import Message
from learn_dns.wire import FormatError
from tests.dns.test_dns_fuzz_codec import mutations
from wirelab_common.processes import start_server

pytestmark = pytest.mark.loopback

ZONES = Path(learn_dns.__file__).parent / "zones"
SERVER = "127.53.0.3"


def start_auth():
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--host", SERVER, "--port", "0", "-q",
            "--zone", str(ZONES / "example.com.zone")]
    return start_server(argv, name="auth-fuzz", timeout=30)


def ours_rejects(packet: bytes) -> bool:
    try:
        Message.from_wire(packet)
    except FormatError:
        return True
    return False


def dnspython_rejects(packet: bytes) -> bool:
    try:
        dns.message.from_wire(packet)
    except Exception:  # noqa: BLE001 - any rejection is FORMERR at the resolver
        return True
    return False


def throw_at_server(port: int, count: int, seed: int, server: str = SERVER,
                    rejects=ours_rejects) -> tuple[int, int]:
    """Send ``count`` mutated packets in windows; return (FORMERR expected, FORMERR received).

    Every packet with a header and QR=0 gets exactly one reply (an answer,
    FORMERR, NOTIMP, REFUSED...), so each window waits for that many, not for
    a timeout: the test runs as fast as the server answers.
    """
    rng = random.Random(seed)
    formerr_expected = formerr_received = 0
    window = 128
    packets = list(mutations(rng, count))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3.0)  # generous on a loaded machine; a lost reply costs this once
        sock.connect((server, port))
        for start in range(0, count, window):
            replies_due = 0
            formerr_due: set[int] = set()  # per window: IDs wrap around at 65536
            for qid, packet in enumerate(packets[start:start + window], start):
                qid &= 0xFFFF
                if len(packet) >= 2:
                    packet = struct.pack("!H", qid) + packet[2:]
                if len(packet) >= 12 and not packet[2] & 0x80:
                    replies_due += 1
                    if rejects(packet):
                        formerr_due.add(qid)
                sock.send(packet)
            formerr_expected += len(formerr_due)
            for _ in range(replies_due):
                try:
                    reply = sock.recv(65535)
                except TimeoutError:
                    break  # a datagram lost under load: the assertion below allows a few
                qid = struct.unpack("!H", reply[:2])[0]
                if qid in formerr_due:
                    formerr_due.discard(qid)
                    assert reply[3] & 0xF == 1, f"expected FORMERR for id {qid}, got rcode {reply[3] & 0xF}"
                    formerr_received += 1
    return formerr_expected, formerr_received


def valid_query_is_answered(port: int) -> bool:
    query = dns.message.make_query("www.example.com", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(query.to_wire(), (SERVER, port))
        response = dns.message.from_wire(sock.recv(65535))
    return response.id == query.id and response.answer[0][0].to_text() == "192.0.2.10"


def check_server_survives(count: int, seed: int) -> None:
    with start_auth() as server:
        port = server.port
        formerr_expected, formerr_received = throw_at_server(port, count, seed)
        assert valid_query_is_answered(port)
        assert server.alive()
        assert "error handling" not in server.output(), server.output()[-2000:]
    assert formerr_expected > count // 4
    # UDP may lose a datagram under load, so not every FORMERR must arrive; most must.
    assert formerr_received >= formerr_expected * 0.9


def test_a_server_survives_a_few_thousand_malformed_packets():
    check_server_survives(3_000, seed=2)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_server_survives_100k_malformed_packets():
    check_server_survives(100_000, seed=3)



RESOLVER = "127.53.0.53"


def test_the_resolver_survives_malformed_packets_answering_formerr_or_dropping(procs):
    """The recursive resolver too: FORMERR for what does not parse, silence for responses and
    scraps, and still an answer afterwards.  Its root hint points where nothing listens, so
    packets that happen to be valid queries end in a quick SERVFAIL, not a long resolution."""
    resolver = start_server([sys.executable, "-m", "learn_dns.recursive.server", "--host", RESOLVER,
                             "--port", "0", "--root-hints", "127.53.3.1", "--timeout", "0.2", "--quiet"],
                            name="resolver-fuzz", timeout=30)
    procs.started.append(resolver)  # stopped with the test's other processes
    port = resolver.port
    count = 10_000
    formerr_expected, formerr_received = throw_at_server(port, count, seed=4, server=RESOLVER,
                                                         rejects=dnspython_rejects)
    query = dns.message.make_query("www.example.com", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query.to_wire(), (RESOLVER, port))
        response = dns.message.from_wire(sock.recv(65535))
    assert response.id == query.id and response.rcode() == dns.rcode.SERVFAIL  # nobody upstream: alive
    assert resolver.alive()
    assert "internal error" not in resolver.output() and "Traceback" not in resolver.output()
    assert formerr_expected > count // 4
    assert formerr_received >= formerr_expected * 0.9
