"""What both DNS benchmarks share: the dnsperf client and unbound's fixed settings.

``bench_dns.py`` (authoritative) and ``bench_dns_resolver.py`` (recursive)
measure different servers, but with the same client run the same way, and
with unbound set up the same way around the part that differs (its records,
or the zones it recurses into).
"""

from __future__ import annotations

import os
import random
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wirelab_common.errors import SetupError

# One thread and the iterator module only (no DNSSEC validation), as ours;
# foreground, no chroot, no user switch, no syslog, no pid file: a child process.
UNBOUND_SERVER = """server:
    interface: {address}
    port: {port}
    do-daemonize: no
    chroot: ""
    username: ""
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
"""
UNBOUND_TAIL = """remote-control:
    control-enable: no
"""


@dataclass
class Dnsperf:
    """One dnsperf run: its rate, its response-code summary and how many queries it lost."""

    qps: float
    codes: str
    lost: str
    client_cpu: float = 0.0  # dnsperf's CPU time / wall time: 1.0 is one core busy
    server_cpu: float = 0.0  # the same for the server process (0 when not measured)

    @property
    def all_noerror(self) -> bool:
        return "NOERROR" in self.codes and "(100.00%)" in self.codes


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def dnsperf(server: str, port: int, query_file: Path, seconds: float, server_pid: int = 0,
            runs: int = 0) -> Dnsperf:
    """Run dnsperf (one client, 100 queries outstanding) against ``server:port``.

    Also measures how busy the client and the server were: dnsperf's CPU time
    (``RUSAGE_CHILDREN``: dnsperf is the only child reaped during the run) and
    the server's (``/proc/PID/stat``), each divided by the wall time.  A client
    well under one core while the server is at about one core means the
    client is not what limits the rate.
    """
    before, server_before, start = resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu(server_pid), \
        time.monotonic()
    limit = ["-n", str(runs)] if runs else []  # -n: send the file this many times at most
    out = subprocess.run(["dnsperf", "-s", server, "-p", str(port), "-d", str(query_file),
                          "-l", str(seconds), "-c", "1", "-q", "100", *limit],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall
    served = (process_cpu(server_pid) - server_before) / wall if server_pid else 0.0
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    if qps is None:
        raise SetupError(f"dnsperf printed no rate:\n{out}", "run dnsperf by hand with the same options")
    codes = re.search(r"Response codes:\s+(.*)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    return Dnsperf(float(qps.group(1)), codes.group(1) if codes else "no responses",
                   lost.group(1) if lost else "?", client, served)


def random_case(name: str, rng: random.Random) -> str:
    """``name`` with each letter upper or lower case at random: the "0x20" trick resolvers play."""
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def write_query_file(path: Path, questions: list[str], lines: int, seed: int = 53) -> Path:
    """``lines`` dnsperf lines drawn from ``questions`` ("NAME TYPE"), each name in random case.

    dnsperf sends the file's lines in order and starts over at the end; with
    more lines than a run sends, almost no packet repeats another byte for byte
    (dnsperf also sets each query's ID itself), so a cache keyed on the exact
    packet cannot make a server look faster than it is.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        name, rdtype = rng.choice(questions).split()
        out.append(f"{random_case(name, rng)} {rdtype}")
    path.write_text("\n".join(out) + "\n")
    return path


def unbound_version() -> str:
    """``unbound 1.17.1``: the anchor's name and version, for the bench summary."""
    out = subprocess.run(["unbound", "-V"], capture_output=True, text=True).stdout
    found = re.search(r"Version\s+(\S+)", out)
    return f"unbound {found.group(1)}" if found else "unbound"


def write_unbound_config(path: Path, address: str, port: int, body: str) -> Path:
    """unbound's config: the shared settings, then ``body``; checked with unbound-checkconf."""
    path.write_text(UNBOUND_SERVER.format(address=address, port=port) + body + UNBOUND_TAIL)
    check = subprocess.run(["unbound-checkconf", str(path)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SetupError(f"unbound-checkconf: {check.stdout}{check.stderr}", "see the config above")
    return path
