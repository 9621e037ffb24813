"""Our STUN server and client beside real peers: coturn's turnutils_stunclient and turnserver, and aiortc.

aiortc must gather a server-reflexive candidate from our server; our client must
read coturn's Binding response.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn_webrtc.netns import can_unshare
from tests.conftest import need_binary, unavailable
from wirelab_common.ports import free_port

pytestmark = pytest.mark.differential


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
from wirelab_common.processes import start_server
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"], check=True)
argv = [sys.executable, "-m", "learn_webrtc.stun_server", "--port", "0", "-v"]
with start_server(argv, name="stun", echo=True) as server:
    gather = [sys.executable, "-m", "learn_webrtc.nat_peer", "gather", "--stun", f"127.0.0.1:{server.port}"]
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
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.stun_client", "--url",
                             f"udp://127.0.0.1:{port}", "-v", "--bind", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    attributes = "XOR-MAPPED-ADDRESS MAPPED-ADDRESS RESPONSE-ORIGIN SOFTWARE FINGERPRINT"
    assert re.search(attributes + r"\s+mapped=127\.0\.0\.1:\d+", result.stdout), result.stdout
