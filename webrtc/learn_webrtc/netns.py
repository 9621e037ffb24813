"""A small internet in network namespaces: two home NATs and a public network (RFC 4787).

Reading order: stun -> stun_attributes -> stun_server -> stun_client -> **netns** -> nat_relay -> nat_peer
-> nat_lab.

Everything lives in five namespaces of our own, so the machine's real
interfaces, routes and firewall are never touched; deleting the namespaces
deletes every interface and rule in them::

     peer-a           router-a                public                 router-b           peer-b
    10.0.1.2 --- lan 10.0.1.1|wan 203.0.113.1 ---+           +--- 203.0.113.2 wan|10.0.2.1 lan --- 10.0.2.2
     eth0          MASQUERADE                    |    br0    |                MASQUERADE            eth0
                                                 203.0.113.10
                                        STUN, TURN, signaling relay

203.0.113.0/24 is TEST-NET-3 (RFC 5737), never routed on the real internet.
The public namespace does not forward, so a packet sent to a private 10.0.x.y
address dies there, exactly as on the internet.

Each router does what a home router does:

- ``iptables -t nat -A POSTROUTING -o wan -j MASQUERADE``: rewrite the source
  of outgoing packets to the router's public address.  Linux keeps the source
  port when it is free, so one socket keeps one public port whoever it talks
  to: **endpoint-independent mapping** (RFC 4787 §4.1), and hole punching works.
  With ``--random-fully`` each new destination gets a random port:
  **address-and-port-dependent mapping**, the "symmetric NAT" that STUN cannot
  get through;
- filtering: a packet from outside gets in only if it comes from the exact
  address and port a packet went to (conntrack): **address-and-port-dependent
  filtering** (RFC 4787 §5).  That is why *both* peers must send: each one's
  check opens its own NAT for the other's (hole punching).  The
  extra ``INPUT ... --ctstate NEW -j DROP`` is the default-deny of a real
  router; without it, the first unsolicited check from the other peer would
  leave a conntrack entry (to the router itself) holding the very port our
  peer's own outgoing check needs, so Linux would NAT that check to another
  port and hole punching fails every time (``nat_lab --no-router-firewall``).

Needs root (CAP_NET_ADMIN), ``ip`` (iproute2) and ``iptables``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

from wirelab_common import netns as common_netns
from wirelab_common.errors import SetupError

PUBLIC_SERVER = "203.0.113.10"  # STUN, TURN and the signaling relay all listen here
PUBLIC_PREFIX = 24
ROUTERS = {"a": ("10.0.1.1", "203.0.113.1"), "b": ("10.0.2.1", "203.0.113.2")}  # side: (lan, wan)
PEERS = {"a": "10.0.1.2", "b": "10.0.2.2"}
NAME_PREFIX = "wlnat"


class NatBehaviour(Enum):
    """RFC 4787 §4.1 mapping behaviour, and the iptables target that gives it."""

    ENDPOINT_INDEPENDENT = ("endpoint-independent", ["MASQUERADE"])
    SYMMETRIC = ("address-and-port-dependent (symmetric)", ["MASQUERADE", "--random-fully"])

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def target(self) -> list[str]:
        return self.value[1]


@dataclass(frozen=True)
class Topology:
    """The names of one lab's namespaces; ``tag`` keeps concurrent labs apart."""

    tag: str

    def ns(self, role: str) -> str:
        """``public``, ``router-a``, ``router-b``, ``peer-a`` or ``peer-b`` -> namespace name."""
        return f"{NAME_PREFIX}{self.tag}-{role}"

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(role) for role in ("public", "router-a", "router-b", "peer-a", "peer-b")]

    def exec_argv(self, role: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace of ``role``."""
        return ["ip", "netns", "exec", self.ns(role), *argv]


def setup_commands(topo: Topology, firewall: bool = True) -> list[list[str]]:
    """Every command that builds the lab, in order (pure: tests read it without root)."""
    pub = topo.ns("public")
    commands = [["ip", "netns", "add", name] for name in topo.namespaces]
    commands += [
        ["ip", "-n", pub, "link", "add", "br0", "type", "bridge"],
        ["ip", "-n", pub, "addr", "add", f"{PUBLIC_SERVER}/{PUBLIC_PREFIX}", "dev", "br0"],
        ["ip", "-n", pub, "link", "set", "br0", "up"],
        ["ip", "-n", pub, "link", "set", "lo", "up"],
        # "The rest of the internet": a veth pair whose far end ("void") has no address, and a
        # default route to a gateway that does not exist (a fixed neighbour entry, so no ARP).
        # A packet for a private address leaves quietly and is lost, as on the real internet,
        # instead of failing with "network unreachable" (which makes coturn drop the allocation).
        ["ip", "-n", pub, "link", "add", "internet", "type", "veth", "peer", "name", "void"],
        ["ip", "-n", pub, "link", "set", "internet", "up"],
        ["ip", "-n", pub, "link", "set", "void", "up"],
        ["ip", "-n", pub, "addr", "add", "198.51.100.2/24", "dev", "internet"],
        ["ip", "-n", pub, "neigh", "add", "198.51.100.1", "lladdr", "02:00:00:00:00:01", "dev", "internet",
         "nud", "permanent"],
        ["ip", "-n", pub, "route", "add", "default", "via", "198.51.100.1"],
    ]
    for side, (lan, wan) in ROUTERS.items():
        router, peer = topo.ns(f"router-{side}"), topo.ns(f"peer-{side}")
        commands += [
            # The veth pairs are made inside the namespaces: nothing appears in the root namespace.
            ["ip", "-n", router, "link", "add", "wan", "type", "veth", "peer", "name", f"to-{side}",
             "netns", pub],
            ["ip", "-n", router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0",
             "netns", peer],
            ["ip", "-n", pub, "link", "set", f"to-{side}", "master", "br0", "up"],
            ["ip", "-n", router, "addr", "add", f"{wan}/{PUBLIC_PREFIX}", "dev", "wan"],
            ["ip", "-n", router, "addr", "add", f"{lan}/24", "dev", "lan"],
            ["ip", "-n", router, "link", "set", "wan", "up"],
            ["ip", "-n", router, "link", "set", "lan", "up"],
            ["ip", "-n", router, "link", "set", "lo", "up"],
            ["ip", "-n", router, "route", "add", "default", "via", PUBLIC_SERVER],
            ["ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
            ["ip", "-n", peer, "addr", "add", f"{PEERS[side]}/24", "dev", "eth0"],
            ["ip", "-n", peer, "link", "set", "eth0", "up"],
            ["ip", "-n", peer, "link", "set", "lo", "up"],
            ["ip", "-n", peer, "route", "add", "default", "via", lan],
        ]
        if firewall:
            commands.append(["ip", "netns", "exec", router, "iptables", "-A", "INPUT", "-i", "wan", "-m",
                             "conntrack", "--ctstate", "NEW", "-j", "DROP"])
    return commands


def nat_commands(topo: Topology, behaviour: NatBehaviour) -> list[list[str]]:
    """Replace both routers' source NAT rule with the one for ``behaviour``."""
    commands = []
    for side in ROUTERS:
        iptables = ["ip", "netns", "exec", topo.ns(f"router-{side}"), "iptables", "-t", "nat"]
        commands += [[*iptables, "-F", "POSTROUTING"],
                     [*iptables, "-A", "POSTROUTING", "-o", "wan", "-p", "udp", "-j", *behaviour.target],
                     [*iptables, "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"]]
    return commands


def _run(argv: Sequence[str]) -> None:
    common_netns.run(argv, "the NAT lab needs root (CAP_NET_ADMIN) with iproute2 and iptables")


def lab_unavailable() -> str | None:
    """None if this process can build the lab (root, ``ip``, ``iptables``, ``ip netns add``), else why not."""
    return common_netns.unavailable("the NAT lab", f"{NAME_PREFIX}probe{os.getpid()}")


def can_unshare() -> str | None:
    """None if ``unshare -n`` (a private network namespace for one command) works here, else why not."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux, iproute2) not installed"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"unshare -n not permitted here ({probe.stderr.strip() or 'exit ' + str(probe.returncode)})"
    return None


def check_can_build() -> None:
    """SetupError unless :func:`lab_unavailable` finds nothing missing."""
    why = lab_unavailable()
    if why:
        raise SetupError(why, "run it as root (CI does): sudo .venv/bin/python -m learn_webrtc.nat_lab")


def set_nat(topo: Topology, behaviour: NatBehaviour) -> None:
    for argv in nat_commands(topo, behaviour):
        _run(argv)


existing_namespaces = common_netns.existing


def teardown(topo: Topology) -> None:
    """Kill what still runs inside the lab (only our processes live there), then delete it."""
    common_netns.delete(topo.namespaces)


def remove_stale() -> None:
    """Delete labs left by a process that died without cleaning up (the tag holds its PID)."""
    tags = {name[len(NAME_PREFIX):].rsplit("-", 2)[0] for name in existing_namespaces()
            if name.startswith(NAME_PREFIX)}
    for tag in tags:
        pid = tag.split("x")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            teardown(Topology(tag))


_serial = 0


@contextmanager
def lab(behaviour: NatBehaviour = NatBehaviour.ENDPOINT_INDEPENDENT,
        firewall: bool = True) -> Iterator[Topology]:
    """Build the lab, yield it, and delete it afterwards whatever happened."""
    global _serial
    check_can_build()
    remove_stale()
    _serial += 1
    topo = Topology(f"{os.getpid()}x{_serial}")
    try:
        for argv in setup_commands(topo, firewall):
            _run(argv)
        set_nat(topo, behaviour)
        yield topo
    finally:
        teardown(topo)
