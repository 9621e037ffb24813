"""Our STUN server as a process: a fuzz storm, then our own client learning its address."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import sys

import pytest

from learn_webrtc.stun import decode
from learn_webrtc.stun_attributes import XorMappedAddress
from tests.webrtc.test_webrtc_stun_answer import binding_request, mutations

pytestmark = pytest.mark.loopback


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
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.stun_client", "--url", f"udp://127.0.0.1:{port}",
                             "--url", f"udp://127.0.0.1:{port}", "--bind", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert re.search(r"is seen by 127\.0\.0\.1:\d+ as 127\.0\.0\.1:\d+", result.stdout)
    assert "mapping: endpoint-independent" in result.stdout
