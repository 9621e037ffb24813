"""The STUN Binding server: its pure decision, then the process against real clients.

Clients: our own stun_client, coturn's turnutils_stunclient, and aiortc, which
must gather a server-reflexive candidate from our server.
"""

from __future__ import annotations

import random
import re
import socket
import subprocess
import sys

import pytest

from learn_webrtc.netns import can_unshare
from learn_webrtc.stun import Message, MessageClass, Method, decode, encode
from learn_webrtc.stun_attributes import (
    ErrorCode,
    RawAttribute,
    Software,
    UnknownAttributes,
    Username,
    XorMappedAddress,
)
from learn_webrtc.stun_client import mapping_behaviour, retransmission_delays
from learn_webrtc.stun_server import SOFTWARE, answer
from tests.conftest import need_binary, unavailable
from wirelab_common.ports import free_port

READY = r"stun server listening on udp \S+:(\d+)"
SOURCE = ("203.0.113.1", 40000)
TID = bytes(range(12))


def binding_request(*attributes) -> bytes:
    return encode(Message(Method.BINDING, MessageClass.REQUEST, TID, list(attributes)), fingerprint=True)


# --- the pure decision ------------------------------------------------------------


def test_binding_request_is_answered_with_the_source_address_xored():
    result = answer(binding_request(), SOURCE)
    response = decode(result.data)
    assert response.message_class == MessageClass.SUCCESS_RESPONSE
    assert response.transaction_id == TID
    assert response.get(XorMappedAddress) == XorMappedAddress(*SOURCE)
    assert response.get(Software) == Software(SOFTWARE)


def test_ipv6_sources_are_reported_too():
    response = decode(answer(binding_request(), ("2001:db8::7", 5000)).data)
    assert response.get(XorMappedAddress) == XorMappedAddress("2001:db8::7", 5000)


def test_an_ice_check_is_answered_without_checking_credentials():
    # A plain STUN server has no password: it answers, and only ICE agents check integrity.
    request = encode(Message(Method.BINDING, MessageClass.REQUEST, TID, [Username("a:b")]),
                     integrity_key=b"pw")
    assert decode(answer(request, SOURCE).data).message_class == MessageClass.SUCCESS_RESPONSE


def test_unknown_comprehension_required_attribute_gets_420_listing_it():
    result = answer(binding_request(RawAttribute(0x7F00, b"x"), RawAttribute(0xC000, b"")), SOURCE)
    response = decode(result.data)
    assert response.get(ErrorCode).code == 420
    assert response.get(UnknownAttributes) == UnknownAttributes((0x7F00,))


def test_malformed_stun_request_gets_400_with_the_reason():
    broken = binding_request(Software("abc"))
    broken = broken[:2] + (len(broken) - 20 + 4).to_bytes(2, "big") + broken[4:]  # length lies
    response = decode(answer(broken, SOURCE).data)
    assert response.message_class == MessageClass.ERROR_RESPONSE
    assert response.transaction_id == TID
    error = response.get(ErrorCode)
    assert error.code == 400 and "header says" in error.reason


def test_other_methods_are_refused_with_400():
    request = encode(Message(Method.ALLOCATE, MessageClass.REQUEST, TID))
    error = decode(answer(request, SOURCE).data).get(ErrorCode)
    assert error.code == 400 and "not served here" in error.reason


@pytest.mark.parametrize("datagram", [
    b"GET / HTTP/1.1\r\n\r\n",
    b"\x16\xfe\xfd" + bytes(40),  # DTLS
    b"",
    encode(Message(Method.BINDING, MessageClass.SUCCESS_RESPONSE, TID)),
    encode(Message(Method.BINDING, MessageClass.INDICATION, TID)),  # a keepalive
])
def test_non_stun_responses_and_indications_get_no_answer(datagram):
    assert answer(datagram, SOURCE).data is None


def mutations(rng: random.Random, count: int) -> list[bytes]:
    """Random bytes, STUN headers with random bodies, and bit-flipped valid requests."""
    seed = binding_request(Software("fuzz"), Username("a:b"))
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 120)))
        elif kind == 1:
            body = rng.randbytes(4 * rng.randrange(0, 20))
            out.append(b"\x00\x01" + len(body).to_bytes(2, "big") + seed[4:20] + body)
        else:
            data = bytearray(seed)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            out.append(bytes(data[: rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data))
    return out


def test_answer_never_raises_on_mutated_input():
    for datagram in mutations(random.Random(5769), 5000):
        result = answer(datagram, SOURCE)
        if result.data is not None:
            decode(result.data)  # whatever we send is well-formed


def test_retransmissions_double_and_mapping_is_named_after_rfc_4787():
    assert retransmission_delays(0.5, 4) == [0.5, 1.0, 2.0, 4.0]
    assert mapping_behaviour([("203.0.113.1", 5), ("203.0.113.1", 5)]) == "endpoint-independent"
    assert mapping_behaviour([("203.0.113.1", 5), ("203.0.113.1", 6)]).startswith("address-and-port")


# --- the server process -----------------------------------------------------------


@pytest.fixture
def stun_server(procs):
    server = procs.python("learn_webrtc.stun_server", "--port", "0", "-v", ready_line=READY)
    port = int(re.search(READY, server.output()).group(1))
    return server, port


def ask(port: int, datagram: bytes, attempts: int = 5) -> bytes:
    """Send until answered, as a STUN client does: UDP may drop a datagram (a full buffer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        for _ in range(attempts):
            sock.sendto(datagram, ("127.0.0.1", port))
            try:
                return sock.recv(2048)
            except TimeoutError:
                continue
    raise AssertionError(f"no answer after {attempts} attempts")


def test_server_survives_a_fuzz_storm_and_still_answers(stun_server):
    server, port = stun_server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in mutations(random.Random(8489), 3000):
            sock.sendto(datagram, ("127.0.0.1", port))
    # Most of the storm is dropped by the kernel (the socket buffer fills): that is UDP.
    response = decode(ask(port, binding_request()))
    assert response.get(XorMappedAddress).address == "127.0.0.1"
    assert server.alive()
    assert "[dropped: not STUN]" in server.output()
    assert "answered with an error" in server.output()


def test_our_client_learns_its_address_from_our_server(stun_server):
    _, port = stun_server
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.stun_client", f"127.0.0.1:{port}",
                             f"127.0.0.1:{port}", "--bind", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert re.search(r"is seen by 127\.0\.0\.1:\d+ as 127\.0\.0\.1:\d+", result.stdout)
    assert "mapping: endpoint-independent" in result.stdout


def test_turnutils_stunclient_gets_its_reflexive_address(stun_server):
    stunclient = need_binary("turnutils_stunclient", "coturn")
    server, port = stun_server
    result = subprocess.run([stunclient, "-p", str(port), "127.0.0.1"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"UDP reflexive addr: 127\.0\.0\.1:\d+", result.stdout), result.stdout
    assert "Binding request" in server.output()


GATHER_IN_NAMESPACE = """
import re, subprocess, sys
from wirelab_common.processes import start_process
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"], check=True)
argv = [sys.executable, "-m", "learn_webrtc.stun_server", "--port", "0", "-v"]
with start_process(argv, name="stun", ready_line="listening on udp", echo=True) as server:
    port = re.search(r":(\\d+)$", server.output().splitlines()[0]).group(1)
    gather = [sys.executable, "-m", "learn_webrtc.nat_peer", "gather", "--stun", f"127.0.0.1:{port}"]
    sys.exit(subprocess.run(gather, timeout=30).returncode)
"""


def test_aiortc_gathers_a_server_reflexive_candidate_from_our_server():
    """aioice skips 127.0.0.1 as a host address, so a lone loopback gives no candidate at all.

    In a fresh namespace (``unshare -n``: its own loopback, port 3478 is ours)
    we add 127.0.0.2: aioice binds a host candidate there and asks our server
    (on 127.0.0.1) for its mapping, which, with no NAT in between, is the
    same address: a srflx candidate whose base is the host candidate.
    """
    why = can_unshare()
    if why:
        unavailable(f"needs a private network namespace: {why}")
    result = subprocess.run(["unshare", "-n", sys.executable, "-c", GATHER_IN_NAMESPACE],
                            capture_output=True, text=True, timeout=45)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"gathered host  127\.0\.0\.2:(\d+)", result.stdout), result.stdout
    srflx = re.search(r"gathered srflx 127\.0\.0\.2:(\d+) \(base 127\.0\.0\.2:(\d+)\)", result.stdout)
    assert srflx and srflx.group(1) == srflx.group(2), result.stdout
    assert "[stun] < stun     Binding request" in result.stdout


def test_our_client_reads_coturns_binding_response(procs, tmp_path):
    """Differential: coturn answers with MAPPED-ADDRESS, RESPONSE-ORIGIN and a FINGERPRINT we check."""
    turnserver = need_binary("turnserver", "coturn")
    port = free_port()
    procs.start([turnserver, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                 f"--listening-port={port}", "--no-tls", "--no-dtls", "--no-cli", "--no-auth",
                 f"--userdb={tmp_path}/turndb", f"--pidfile={tmp_path}/turn.pid", "--log-file=stdout",
                 "--simple-log"],
                name="coturn", ready_port=port)
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.stun_client", f"127.0.0.1:{port}", "-v",
                             "--bind", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    attributes = "XOR-MAPPED-ADDRESS MAPPED-ADDRESS RESPONSE-ORIGIN SOFTWARE FINGERPRINT"
    assert re.search(attributes + r"\s+mapped=127\.0\.0\.1:\d+", result.stdout), result.stdout
