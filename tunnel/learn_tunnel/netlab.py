"""The outbound-only lab: the agent's host in a network namespace that no connection can enter.

Reading order: relay / agent -> socket_mode -> socket_hub -> socket_agent -> **netlab** -> demo.

Run (root): ``python -m learn_tunnel.netlab``.  Two namespaces of our own, so
the machine's interfaces, routes and firewall are never touched; deleting them
deletes every interface and rule in them::

        public (the internet)                          home (no public address, no way in)
    +-----------------------------+              +---------------------------------------+
    |  relay  203.0.113.10:8020   |  veth pair   |  203.0.113.20   INPUT: lo, ESTABLISHED |
    |         203.0.113.10:8021   |--------------|                 and nothing else: DROP |
    |  curl (a public client)     |              |  app 0.0.0.0:8022    agent --> relay   |
    +-----------------------------+              +---------------------------------------+

203.0.113.0/24 is TEST-NET-3 (RFC 5737).  The home host's firewall drops
every packet that does not belong to a connection it opened itself
(``iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT``,
then ``-j DROP``), so the app is unreachable although it listens on every
address.  The lab checks, from the public side:

1. a direct ``curl http://203.0.113.20:8022/headers`` gets nothing (dropped,
   so curl times out);
2. the same request through the relay's public URL reaches the app: the agent's
   outbound WebSocket carried it in, and the response out.

``--no-firewall`` leaves the home host open, and check 1 fails (it must, or the
lab would prove nothing).  Needs root (CAP_NET_ADMIN), ``ip`` and ``iptables``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from wirelab_common import netns as common_netns
from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.wiretrace import Trace

PY = sys.executable
RELAY_IP, HOME_IP = "203.0.113.10", "203.0.113.20"
TOKEN = "netlab-token"


def names(tag: str) -> dict[str, str]:
    return {"public": f"wltun{tag}-pub", "home": f"wltun{tag}-home"}


def setup_commands(ns: dict[str, str], firewall: bool = True) -> list[list[str]]:
    """Every command that builds the lab, in order (pure: a test reads it without root)."""
    pub, home = ns["public"], ns["home"]
    commands = [["ip", "netns", "add", pub], ["ip", "netns", "add", home],
                # the veth pair is made inside the namespaces: nothing appears in the root namespace
                ["ip", "-n", pub, "link", "add", "wan", "type", "veth", "peer", "name", "eth0",
                 "netns", home],
                ["ip", "-n", pub, "addr", "add", f"{RELAY_IP}/24", "dev", "wan"],
                ["ip", "-n", home, "addr", "add", f"{HOME_IP}/24", "dev", "eth0"]]
    for name, dev in ((pub, "wan"), (home, "eth0")):
        commands += [["ip", "-n", name, "link", "set", dev, "up"],
                     ["ip", "-n", name, "link", "set", "lo", "up"]]
    if firewall:
        iptables = ["ip", "netns", "exec", home, "iptables", "-A", "INPUT"]
        commands += [[*iptables, "-i", "lo", "-j", "ACCEPT"],
                     [*iptables, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                     [*iptables, "-j", "DROP"]]
    return commands


def unavailable() -> str | None:
    """None if this process can build the lab, else why not."""
    return common_netns.unavailable("the lab", f"wltunprobe{os.getpid()}")


@contextmanager
def lab(firewall: bool) -> Iterator[dict[str, str]]:
    why = unavailable()
    if why:
        raise SetupError(why, "run it as root: sudo .venv/bin/python -m learn_tunnel.netlab")
    ns = names(str(os.getpid()))
    try:
        for argv in setup_commands(ns, firewall):
            common_netns.run(argv, "needs root with iproute2 and iptables")
        yield ns
    finally:
        common_netns.delete(ns.values())  # and whatever still runs in them (only our processes)


def inside(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def curl(ns: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    argv = inside(ns, ["curl", "-sS", "--max-time", "3", "-w", "\n%{http_code}", *extra, url])
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


def run(args: argparse.Namespace) -> None:
    trace = Trace("netlab", verbose=args.verbose)
    if shutil.which("curl") is None:
        raise SetupError("curl not found", "apt-get install curl")
    with lab(firewall=not args.no_firewall) as ns:
        trace.note(f"namespaces {ns['public']} (relay {RELAY_IP}) and {ns['home']} (agent host {HOME_IP})")
        started: list[ManagedProcess] = []
        try:
            relay = [PY, "-m", "learn_tunnel.relay", "--host", RELAY_IP, "--port", "8020",
                     "--agent-port", "8021", "--token", TOKEN]
            app = [PY, "-m", "learn_tunnel.app", "--host", "0.0.0.0", "--port", "8022", "-q"]
            agent = [PY, "-m", "learn_tunnel.agent", "--relay", f"ws://{RELAY_IP}:8021", "--name", "home",
                     "--to", "http://127.0.0.1:8022", "--token", TOKEN]
            for name, space, argv, ready in (("relay", "public", relay, "listening on"),
                                             ("app", "home", app, "listening on"),
                                             ("agent", "home", agent, "registered as")):
                started.append(start_process(inside(ns[space], argv), name=name, ready_line=ready, echo=True))
            direct = curl(ns["public"], f"http://{HOME_IP}:8022/headers")
            trace.note(f"from the public side, straight to the app: curl exit {direct.returncode} "
                       f"({direct.stderr.strip() or direct.stdout.strip()[-40:]})")
            check(direct.returncode != 0, "the app answered a connection from outside: the home host is not "
                                          "closed to inbound connections, so the lab proves nothing")
            host = "Host: home.localhost:8020"
            tunnelled = curl(ns["public"], f"http://{RELAY_IP}:8020/headers", "-H", host)
            body, _, code = tunnelled.stdout.rpartition("\n")
            trace.note(f"through the relay's public URL: HTTP {code}")
            check(code == "200" and '"x-forwarded-for":"203.0.113.10"' in body,
                  f"the tunnel did not bring the request in: {tunnelled.stdout[-200:]} {tunnelled.stderr}")
            trace.note("the app is reachable only through the connection its agent opened outward")
        finally:
            for proc in reversed(started):
                proc.stop()
    trace.note("all checks passed (netlab)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.netlab",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="detail lines")
    parser.add_argument("--no-firewall", action="store_true",
                        help="leave the agent's host open (check 1 fails)")
    args = parser.parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
