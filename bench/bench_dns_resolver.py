"""dns resolver benchmark: hot-cache answers/s of our resolver beside unbound and dnsmasq, same run.

    python bench/bench_dns_resolver.py [--seconds 5] [--rounds 2] [--quick]

All of them sit in front of the same loopback DNS internet (learn_dns.hierarchy:
root, com/net, example.com on our authoritative server, one free port) and
are measured with the same client, ``dnsperf``, on the same five questions:

- **ours** (``learn_dns.recursive.server --quiet``; response rate limiting is
  off by default), on uvloop (its default when installed) and on asyncio's own
  loop (``--loop asyncio``);
- **unbound** as a real caching *recursive* resolver over the same authoritative
  servers (not ``local-data``, which would make it an authoritative server and
  measure something else).  unbound sends every query to port 53, the port a
  referral implies, and our servers share one free port, so each zone cut is
  given to it as a ``stub-zone`` with ``addr@port`` (root, com, net, example.com):
  it skips the referrals, which changes nothing once the cache is hot.
  ``do-not-query-localhost: no`` lets it talk to 127.53.0.x; one thread,
  iterator module only (no DNSSEC validation), like ours;
- **dnsmasq**, which cannot iterate: it is a caching *forwarder*, here sending
  its misses straight to example.com's primary (``--server=127.53.0.3#P``).
  With a hot cache it does what the others do: answer from memory.

Each resolver is warmed with one query per name, so the run measures the cache
hit path.  The zones' TTLs are compressed (5 s), so during a run each name
expires and is fetched again about once per 5 s, in every resolver alike.
Rounds alternate the four; the median of the rounds is printed.
The target (bench/README.md, resolver row): >= 1.0x unbound with a hot cache.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
from bench_dns_peers import dnsperf, write_unbound_config

from learn_dns.hierarchy import RESOLVER_ADDRESS, Hierarchy
from wirelab_common.errors import SetupError, require_binary, run_main
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.server_cli import READY_LINE

QUESTIONS = ["www.example.com A", "mail.example.com A", "example.com MX", "www.example.com AAAA",
             "ftp.example.com A"]
ASYNCIO_RESOLVER = "127.53.0.57"
UNBOUND = "127.53.0.60"
DNSMASQ = "127.53.0.61"

UNBOUND_BODY = """    do-ip6: no
    do-not-query-localhost: no
    qname-minimisation: no
stub-zone:
    name: "."
    stub-addr: 127.53.0.1@{port}
stub-zone:
    name: "com."
    stub-addr: 127.53.0.2@{port}
stub-zone:
    name: "net."
    stub-addr: 127.53.0.2@{port}
stub-zone:
    name: "example.com."
    stub-addr: 127.53.0.3@{port}
    stub-addr: 127.53.0.4@{port}
"""


def warm(server: str, port: int) -> None:
    for line in QUESTIONS:
        name, rdtype = line.split()
        response = dns.query.udp(dns.message.make_query(name, rdtype), server, port=port, timeout=5)
        if not response.answer:
            raise SetupError(f"{server} gave no answer for {line}", "check the resolver's output")


def answering(proc: ManagedProcess, address: str, port: int) -> ManagedProcess:
    """``proc`` once it answers every question (and so has them cached); stopped if it never does."""
    deadline = time.monotonic() + 10
    while True:
        try:
            warm(address, port)
            return proc
        except Exception as exc:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                proc.stop()
                raise SetupError(f"{proc.name} did not answer ({exc}): {proc.output()}",
                                 f"run {proc.name} by hand with the same options") from None
            time.sleep(0.2)


def start_unbound(port: int, workdir: Path) -> ManagedProcess:
    conf = write_unbound_config(workdir / "unbound.conf", UNBOUND, port, UNBOUND_BODY.format(port=port))
    return answering(start_process(["unbound", "-d", "-c", str(conf)], name="unbound"), UNBOUND, port)


def start_dnsmasq(port: int) -> ManagedProcess:
    """dnsmasq as a caching forwarder: misses go to example.com's primary, hits come from its cache."""
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", f"--port={port}",
            f"--listen-address={DNSMASQ}", "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
            "--user=root", f"--server=127.53.0.3#{port}", "--cache-size=1000"]
    return answering(start_process(argv, name="dnsmasq"), DNSMASQ, port)


OURS_DEFAULT, OURS_ASYNCIO = "ours (uvloop, default)", "ours (--loop asyncio)"


def bench(seconds: float, rounds: int) -> None:
    require_binary("dnsperf", "apt-get install dnsperf")
    require_binary("unbound", "apt-get install unbound")
    require_binary("dnsmasq", "apt-get install dnsmasq")
    workdir = Path(tempfile.mkdtemp(prefix="bench-dns-"))
    queries = workdir / "queries.txt"
    queries.write_text("\n".join(QUESTIONS) + "\n")
    servers = {OURS_DEFAULT: RESOLVER_ADDRESS, OURS_ASYNCIO: ASYNCIO_RESOLVER, "unbound": UNBOUND,
               "dnsmasq": DNSMASQ}
    results: dict[str, list[float]] = {label: [] for label in servers}
    lost: dict[str, str] = {}
    with Hierarchy(resolver_args=["--quiet", "--loop", "uvloop"]) as h:
        port = h.port
        argv = [sys.executable, "-m", "learn_dns.recursive.server", "--host", ASYNCIO_RESOLVER,
                "--port", str(port), "--root-hints", "127.53.0.1", "--quiet",
                "--loop", "asyncio"]
        peers = [start_process(argv, name="resolver-asyncio", ready_line=READY_LINE.pattern, timeout=20)]
        try:
            peers.append(start_unbound(port, workdir))
            peers.append(start_dnsmasq(port))
            for address in servers.values():
                warm(address, port)
            for _ in range(rounds):
                for label, address in servers.items():
                    run = dnsperf(address, port, queries, seconds)
                    lost[label] = run.lost
                    results[label].append(run.qps)
        finally:
            for proc in reversed(peers):
                proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    anchor = statistics.median(results["unbound"])
    print(f"\ndnsperf -l {seconds:g} -q 100, {len(QUESTIONS)} names, hot cache, median of {rounds} round(s) "
          "(shared, noisy 2-core machine)")
    print(f"{'resolver':<24} {'queries/s':>10} {'lost':>6} {'x unbound':>10}  target")
    for label, rates in results.items():
        qps = statistics.median(rates)
        met = "met" if qps >= 1.0 * anchor else "NOT met"
        target = f">= 1.0x (bench/README.md): {met}" if label.startswith("ours") else ""
        print(f"{label:<24} {qps:>10.0f} {lost[label]:>6} {qps / anchor:>9.2f}x  {target}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one round of 2 s")
    args = parser.parse_args()
    seconds, rounds = (2.0, 1) if args.quick else (args.seconds, args.rounds)
    run_main(lambda: bench(seconds, rounds))


if __name__ == "__main__":
    main()
