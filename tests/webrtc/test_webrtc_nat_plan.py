"""The NAT lab's namespace plan, pure: every command it would run, checked without running one."""

from __future__ import annotations

import pytest

from learn_webrtc import netns
from learn_webrtc.netns import NatBehaviour, Topology, nat_commands, setup_commands
from wirelab_common.errors import SetupError

pytestmark = pytest.mark.pure

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
