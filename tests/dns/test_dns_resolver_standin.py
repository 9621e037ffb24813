"""Our resolver against misbehaving authoritative servers: tiny responders written in the test.

- a root that refers ``evil.test.`` to a server that injects records for other zones
  (bailiwick: they must be ignored);
- a root that truncates a big answer over UDP (the resolver must retry over TCP);
- a root that sends a forged answer with the wrong id first (RFC 5452: ignored).
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from wirelab_common.ports import free_port
from wirelab_common.server_cli import READY_LINE

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(60)]
ROOT, EVIL, RESOLVER = "127.53.1.1", "127.53.1.2", "127.53.1.53"
BIG = [f"chunk {i:02d} " + "x" * 90 for i in range(20)]  # ~2 KB: more than EDNS's 1232 bytes


def root_answer(query: dns.message.Message, tcp: bool) -> list[dns.message.Message]:
    name = query.question[0].name
    response = dns.message.make_response(query)
    if name.is_subdomain(dns.name.from_text("evil.test.")):
        response.authority.append(dns.rrset.from_text("evil.test.", 60, "IN", "NS", "ns.evil.test."))
        response.additional.append(dns.rrset.from_text("ns.evil.test.", 60, "IN", "A", EVIL))
        return [response]
    response.flags |= dns.flags.AA
    if name == dns.name.from_text("big.test.") and not tcp:
        response.flags |= dns.flags.TC
        return [response]
    if name == dns.name.from_text("big.test."):
        texts = [f'"{t}"' for t in BIG]
        response.answer.append(dns.rrset.from_text_list("big.test.", 60, "IN", "TXT", texts))
        return [response]
    if name == dns.name.from_text("spoof.test."):
        forged = dns.message.make_response(query)
        forged.id = query.id ^ 0x5A5A
        forged.answer.append(dns.rrset.from_text("spoof.test.", 60, "IN", "A", "6.6.6.6"))
        response.answer.append(dns.rrset.from_text("spoof.test.", 60, "IN", "A", "192.0.2.77"))
        return [forged, response]
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(dns.rrset.from_text(".", 60, "IN", "SOA", "a.root. h.root. 1 2 3 4 5"))
    return [response]


def evil_answer(query: dns.message.Message, tcp: bool) -> list[dns.message.Message]:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.66"))
    response.answer.append(dns.rrset.from_text("www.victim.test.", 86400, "IN", "A", "6.6.6.6"))
    response.authority.append(dns.rrset.from_text("victim.test.", 86400, "IN", "NS", "ns.evil.test."))
    return [response]


class StandIn:
    """UDP and TCP responders on several addresses, one thread, answers from plain functions."""

    def __init__(self, port: int, handlers: dict) -> None:
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        for address, handler in handlers.items():
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((address, port))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            tcp.listen()
            self.selector.register(udp, selectors.EVENT_READ, ("udp", handler))
            self.selector.register(tcp, selectors.EVENT_READ, ("tcp", handler))
            self.sockets += [udp, tcp]
        self.received: list[tuple[dns.message.Message, tuple[str, int]]] = []  # UDP queries, with source
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            for key, _ in self.selector.select(0.1):
                kind, handler = key.data
                if kind == "udp":
                    data, addr = key.fileobj.recvfrom(4096)
                    query = dns.message.from_wire(data)
                    self.received.append((query, addr))
                    for response in handler(query, False):
                        key.fileobj.sendto(response.to_wire(), addr)
                else:
                    conn, _ = key.fileobj.accept()
                    with conn:
                        conn.settimeout(2)
                        (length,) = struct.unpack("!H", conn.recv(2))
                        query = dns.message.from_wire(conn.recv(length))
                        wire = handler(query, True)[0].to_wire(max_size=65535)
                        conn.sendall(struct.pack("!H", len(wire)) + wire)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def hostile(procs):
    port = free_port()
    stand_in = StandIn(port, {ROOT: root_answer, EVIL: evil_answer})
    try:
        resolver = procs.python("learn_dns.recursive.server", "--host", RESOLVER, "--port", str(port),
                                "--root-hints", ROOT, ready_line=READY_LINE.pattern)
        yield port, resolver, stand_in
    finally:
        stand_in.close()


def ask(port: int, name: str, rdtype: str = "A") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rdtype, use_edns=0), RESOLVER, port=port, timeout=4)


def test_records_injected_for_another_zone_are_not_believed(hostile):
    port, resolver, _ = hostile
    response = ask(port, "www.evil.test")
    assert [rr[0].address for rr in response.answer] == ["192.0.2.66"]
    resolver.wait_line("ignored out-of-bailiwick www.victim.test.", timeout=10)
    victim = ask(port, "www.victim.test")
    assert victim.rcode() == dns.rcode.NXDOMAIN and not victim.answer  # asked the root, not the cache


def test_a_truncated_upstream_answer_is_fetched_again_over_tcp(hostile):
    port, resolver, _ = hostile
    query = dns.message.make_query("big.test", "TXT")
    response = dns.query.tcp(query, RESOLVER, port=port, timeout=4)
    assert len(response.answer[0]) == len(BIG)
    resolver.wait_line("asking again over TCP", timeout=10)


def test_an_answer_with_the_wrong_id_is_ignored(hostile):
    port, resolver, _ = hostile
    response = ask(port, "spoof.test")
    assert [rr[0].address for rr in response.answer] == ["192.0.2.77"]
    resolver.wait_line("did not match id/question", timeout=10)


def test_upstream_queries_are_iterative_with_edns_1232_and_random_ids_and_ports(hostile):
    port, _, stand_in = hostile
    for i in range(6):
        ask(port, f"n{i}.nothing.test")  # six NXDOMAINs: six queries to the root
    queries = [(q, addr) for q, addr in stand_in.received if q.question[0].name.labels[1] == b"nothing"]
    assert len(queries) == 6
    for query, _addr in queries:
        assert not query.flags & dns.flags.RD   # iterative: we do the recursion ourselves
        assert query.edns == 0 and query.payload == 1232  # RFC 6891, DNS flag day 2020
    assert len({q.id for q, _ in queries}) == 6            # RFC 5452 §9.2: a fresh id...
    assert len({addr[1] for _, addr in queries}) >= 5       # ...and a fresh source port (rarely one repeats)
