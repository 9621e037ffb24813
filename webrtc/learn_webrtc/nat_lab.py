"""The NAT lab: two aiortc peers behind two home NATs try to connect, four ways (RFC 8445, 4787).

Reading order: stun -> stun_attributes -> stun_server -> stun_client -> netns -> nat_relay -> nat_peer
-> **nat_lab**.

Run it as root (it builds network namespaces; see ``netns.py`` for the map)::

    python -m learn_webrtc.nat_lab          # the four cases, ~15 s
    python -m learn_webrtc.nat_lab -v       # with every candidate line and the SDPs
    python -m learn_webrtc.nat_lab --cases b --no-router-firewall   # see what the firewall rule is for
    python -m learn_webrtc.nat_lab --no-stun   # a fault hook: without STUN, case (b) fails its check

The cases, and what ICE can do in each:

(a) host candidates only: each peer offers its private 10.0.x.2 address, which
    the other cannot route to.  ICE fails.
(b) with our STUN server: each peer also learns its NAT's public mapping
    (server-reflexive, srflx).  The NATs map endpoint-independently, so both
    peers' checks open the path for the other's (hole punching): connected.
(b') the same behind symmetric NATs (``MASQUERADE --random-fully``): the port
    a peer's NAT uses towards the other peer is not the one STUN saw.  Fails.
(c) with coturn as TURN server, still symmetric: each peer has a relayed
    candidate on the server, and relay-to-relay always works: connected.

Each case prints the STUN view of the NAT (``stun_client`` asking two ports),
both peers' candidates, the selected pair and a ``RESULT``; the lab checks each
outcome against what the case expects and exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from wirelab_common.errors import check, require_binary, run_main
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.wiretrace import Trace

from . import netns
from .netns import PUBLIC_SERVER, NatBehaviour, Topology
from .turn import turnserver_argv

PY = sys.executable
TURN_PORT = 3478  # fixed, but inside the lab's own namespace, which nothing else shares
TURN_RELAY_PORTS = (49152, 49200)  # likewise
PEER_TIMEOUT = 15.0


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    nat: NatBehaviour
    stun: bool
    turn: bool
    expect: str | None  # a candidate type in the selected pair, or None: ICE must fail


CASES = [
    Case("a", "host candidates only", NatBehaviour.ENDPOINT_INDEPENDENT, False, False, None),
    Case("b", "STUN: server-reflexive candidates, hole punching", NatBehaviour.ENDPOINT_INDEPENDENT,
         True, False, "srflx"),
    Case("b'", "STUN behind symmetric NATs", NatBehaviour.SYMMETRIC, True, False, None),
    Case("c", "TURN relay behind symmetric NATs", NatBehaviour.SYMMETRIC, True, True, "relay"),
]
RESULT = re.compile(r"RESULT (connected local=(\S+) remote=(\S+)|failed: .*)")


def start_servers(topo: Topology, workdir: str, want_turn: bool, verbose: bool) -> dict[str, ManagedProcess]:
    """Our STUN server on two ports, the signaling relay, and (if wanted) coturn.

    Ours start on ``--port 0`` and name their port in their ready line
    (``= stun     listening on udp://203.0.113.10:41234``): ``proc.url``.
    """
    public = lambda argv: topo.exec_argv("public", argv)  # noqa: E731
    module = ["-m", "learn_webrtc.stun_server", "--host", PUBLIC_SERVER, "--port", "0"]
    servers: dict[str, ManagedProcess] = {
        "stun": start_server(public([PY, *module, "-v" if verbose else "-q"]), name="stun", echo=verbose),
        "stun2": start_server(public([PY, *module, "-q"]), name="stun2"),
        "relay": start_server(public([PY, "-m", "learn_webrtc.nat_relay", "--host", PUBLIC_SERVER,
                                      "--port", "0"]), name="relay", echo=verbose),
    }
    if want_turn:
        # turn.py's command line, on the public address; ready when coturn has started its threads
        # (turn.py waits for the port instead, which the root namespace cannot reach here).
        argv = turnserver_argv(TURN_PORT, TURN_RELAY_PORTS, workdir, host=PUBLIC_SERVER)
        servers["turn"] = start_process(public(argv), name="turn", ready_line="Total General servers")
    return servers


def run_quiet(argv: Sequence[str], timeout: float) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return result.stdout + result.stderr


def run_case(case: Case, topo: Topology, urls: dict[str, str], trace: Trace, verbose: bool,
             use_stun: bool = True) -> str:
    """Run one case; return the outcome (``connected local=host remote=srflx`` or ``failed``).

    ``use_stun=False`` (``--no-stun``) leaves our STUN server out of every case, to show
    which outcomes depend on it: the case then fails its check.
    """
    trace.banner(f"case ({case.key}): {case.title}")
    netns.set_nat(topo, case.nat)
    trace.state(f"routers: iptables -t nat ... -j {' '.join(case.nat.target)}  ({case.nat.label} mapping)")
    stun = urls["stun"].removeprefix("udp://")
    if case.stun and not use_stun:
        trace.note("--no-stun: this case runs without our STUN server")
    if case.stun and use_stun:
        # What each NAT does to one socket talking to two ports (RFC 4787 §4.1).
        argv = [PY, "-m", "learn_webrtc.stun_client", "--url", urls["stun"], "--url", urls["stun2"],
                "--attempts", "3", "--bind", f"{netns.PEERS['a']}:0"]
        probe = run_quiet(topo.exec_argv("peer-a", argv), 20)
        for line in probe.splitlines():
            if line.startswith("=") or verbose:
                print(line.replace("client  ", "peer-a  "), flush=True)
    options = ["--url", urls["relay"], "--room", case.key,
               "--timeout", str(PEER_TIMEOUT), *(["-v"] if verbose else [])]
    if case.stun and use_stun:
        options += ["--stun", stun]
    if case.turn:
        options += ["--turn", f"{PUBLIC_SERVER}:{TURN_PORT}"]
    peers = {side: subprocess.Popen(
        topo.exec_argv(f"peer-{side}", [PY, "-m", "learn_webrtc.nat_peer", role, "--name", f"peer-{side}",
                                        "--remote", f"peer-{'b' if side == 'a' else 'a'}", *options]),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for side, role in (("a", "offer"), ("b", "answer"))}
    outputs = {}
    for side, proc in peers.items():
        try:
            outputs[side] = proc.communicate(timeout=PEER_TIMEOUT + 10)[0]
        except subprocess.TimeoutExpired:
            proc.kill()  # by its own handle; netns.teardown catches anything it left
            outputs[side] = proc.communicate()[0] + "\nRESULT failed: the peer process hung\n"
    for side in peers:
        for line in outputs[side].splitlines():
            shown = re.match(r"[=<>] \S+\s+(local candidate|remote candidate|selected|ICE|data chan)", line)
            if verbose or shown or line.startswith("RESULT"):
                print(line if not line.startswith("RESULT") else f"= peer-{side}   {line}", flush=True)
    results = [RESULT.search(outputs[side]) for side in peers]
    check(all(results), f"case ({case.key}): a peer printed no RESULT line:\n{outputs['a']}\n{outputs['b']}")
    outcome = results[0].group(1) if results[0].group(2) else "failed"
    expected = "failed" if case.expect is None else f"a pair with a {case.expect} candidate"
    trace.state(f"case ({case.key}) outcome: {outcome}  (expected: {expected})")
    if case.expect is None:
        check(all(r.group(2) is None for r in results), f"case ({case.key}) should fail, but: {outcome}")
    else:
        check(all(r.group(2) for r in results), f"case ({case.key}) should connect: {results[1].group(0)}")
        for result in results:
            check(case.expect in (result.group(2), result.group(3)),
                  f"case ({case.key}): selected pair {result.group(1)}, expected a {case.expect} candidate")
    return outcome


def run_lab(cases: Sequence[Case], verbose: bool, firewall: bool = True, use_stun: bool = True) -> None:
    trace = Trace("lab", verbose=verbose)
    want_turn = any(case.turn for case in cases)
    if want_turn:  # before building anything
        require_binary("turnserver", "apt-get install coturn, or leave out case c: --cases a,b,b'")
    outcomes = []
    with netns.lab(firewall=firewall) as topo, tempfile.TemporaryDirectory(prefix="wl-turn-") as workdir:
        trace.state(f"namespaces {', '.join(topo.namespaces)}")
        trace.state(f"peer-a {netns.PEERS['a']} behind 203.0.113.1, peer-b {netns.PEERS['b']} behind "
                    f"203.0.113.2, servers on {PUBLIC_SERVER}")
        servers = start_servers(topo, workdir, want_turn, verbose)
        try:
            urls = {name: servers[name].url for name in ("stun", "stun2", "relay")}
            for case in cases:
                outcomes.append((case, run_case(case, topo, urls, trace, verbose, use_stun)))
        finally:
            for proc in servers.values():
                proc.stop()
    trace.banner("summary")
    for case, outcome in outcomes:
        trace.state(f"({case.key:<2}) {case.title:<50} {outcome}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(case.key for case in CASES),
                        help="comma-separated subset of a,b,b',c")
    parser.add_argument("--no-router-firewall", action="store_true",
                        help="leave out the routers' INPUT default-deny rule (then case b fails: netns.py)")
    parser.add_argument("--no-stun", dest="stun", action="store_false",
                        help="leave our STUN server out (then case b fails its check: a fault hook)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    keys = args.cases.split(",")
    unknown = set(keys) - {case.key for case in CASES}
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}")
    cases = [case for case in CASES if case.key in keys]
    if args.no_router_firewall:
        # Without the rule, hole punching fails: case (b) is then expected to fail.
        cases = [replace(case, expect=None) if case.key == "b" else case for case in cases]
    # SIGTERM becomes SystemExit, so the `finally` blocks stop the servers and delete the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run_main(lambda: run_lab(cases, args.verbose, firewall=not args.no_router_firewall, use_stun=args.stun))


if __name__ == "__main__":
    main()
