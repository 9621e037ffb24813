"""The NAT lab as root: five network namespaces, two MASQUERADE routers, our STUN server and coturn.

The full run covers the four cases of ``nat_lab``: host-only fails, STUN
connects through endpoint-independent NATs, STUN fails through symmetric ones,
TURN always connects.  (The plan of commands is checked anywhere, as a pure
test: test_webrtc_nat_plan.py.)
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn_webrtc import netns
from tests.conftest import need_binary, unavailable

pytestmark = pytest.mark.loopback


@pytest.fixture
def namespaces() -> None:
    """The lab needs root, ip and iptables: without them a skip here, a failure in CI."""
    why = netns.lab_unavailable()
    if why is not None:
        unavailable(f"NAT lab: {why}")


def test_the_lab_is_torn_down_even_when_the_block_fails(namespaces):
    with pytest.raises(RuntimeError), netns.lab() as topo:
        names = topo.namespaces
        assert set(names) <= set(netns.existing_namespaces())
        raise RuntimeError("something broke mid-test")
    assert not set(names) & set(netns.existing_namespaces())


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_nat_lab_shows_host_fail_srflx_connect_symmetric_fail_relay_connect(namespaces):
    need_binary("turnserver", "coturn")
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.nat_lab"], capture_output=True, text=True,
                            timeout=140)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "case (a) outcome: failed" in out
    assert "ICE failed: no candidate pair answered its checks" in out
    assert "mapping: endpoint-independent" in out
    assert "case (b) outcome: connected local=host remote=srflx" in out
    assert "mapping: address-and-port-dependent (symmetric NAT)" in out
    assert "case (b') outcome: failed" in out
    # Relay to relay, relay to host, or relay to the peer-reflexive address a relayed check revealed.
    relayed = re.search(r"case \(c\) outcome: connected local=(\S+) remote=(\S+)", out)
    assert relayed and "relay" in relayed.groups(), out
    assert "< peer-b   data channel 'chat': 'hello from peer-a'" in out
    used = next(line for line in out.splitlines() if "namespaces wlnat" in line).split("namespaces ")[1]
    assert not set(used.split(", ")) & set(netns.existing_namespaces()), "the lab was not torn down"


@pytest.mark.timeout(90)
def test_without_stun_the_hole_punching_case_fails_its_check(namespaces):
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.nat_lab", "--cases", "b", "--no-stun"],
                            capture_output=True, text=True, timeout=80)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "case (b) should connect" in result.stderr, result.stdout + result.stderr
