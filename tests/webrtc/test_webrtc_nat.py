"""The NAT lab: the namespace plan (pure, runs anywhere), then the real thing as root.

The real run builds five network namespaces, two MASQUERADE routers, our STUN
server and coturn, and runs the four cases of ``nat_lab``: host-only fails,
STUN connects through endpoint-independent NATs, STUN fails through symmetric
ones, TURN always connects.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn_webrtc import netns
from learn_webrtc.netns import NatBehaviour, Topology, nat_commands, setup_commands
from tests.conftest import need_binary, unavailable
from wirelab_common.errors import SetupError

TOPO = Topology("test")


def namespace_of(argv: list[str]) -> str | None:
    """The namespace a command acts in (None: the root namespace)."""
    if argv[:3] == ["ip", "netns", "add"] or argv[:3] == ["ip", "netns", "exec"]:
        return argv[3]
    if argv[:2] == ["ip", "-n"]:
        return argv[2]
    return None


@pytest.mark.parametrize("firewall", [True, False])
def test_every_setup_command_acts_inside_one_of_our_namespaces(firewall):
    ours = set(TOPO.namespaces)
    for argv in setup_commands(TOPO, firewall) + nat_commands(TOPO, NatBehaviour.SYMMETRIC):
        assert namespace_of(argv) in ours, f"would touch the root namespace: {argv}"
        if "netns" in argv[4:]:  # the far end of a veth pair goes to another of ours
            assert argv[argv.index("netns", 4) + 1] in ours, argv


def test_routers_masquerade_and_only_the_symmetric_nat_randomises_ports():
    eim = [argv for argv in nat_commands(TOPO, NatBehaviour.ENDPOINT_INDEPENDENT) if "-A" in argv]
    symmetric = [argv for argv in nat_commands(TOPO, NatBehaviour.SYMMETRIC) if "-A" in argv]
    assert all("MASQUERADE" in argv for argv in eim + symmetric)
    assert not any("--random-fully" in argv for argv in eim)
    assert sum("--random-fully" in argv for argv in symmetric) == 2  # UDP on each router


def test_the_firewall_rule_is_the_only_difference_without_firewall():
    with_rule, without = setup_commands(TOPO, True), setup_commands(TOPO, False)
    extra = [argv for argv in with_rule if argv not in without]
    assert [namespace_of(argv) for argv in extra] == [TOPO.ns("router-a"), TOPO.ns("router-b")]
    rule = ["-i", "wan", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"]
    assert all(argv[-8:] == rule for argv in extra)


def test_without_root_the_lab_refuses_with_a_reason_and_a_hint(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert "needs root" in netns.lab_unavailable()
    with pytest.raises(SetupError) as info:  # nat_lab exits 2 with this
        netns.check_can_build()
    assert "sudo" in info.value.hint


# --- as root --------------------------------------------------------------------------


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
