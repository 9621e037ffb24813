"""What both DNS benchmarks share: the dnsperf client and unbound's fixed settings.

``bench_dns.py`` (authoritative) and ``bench_dns_resolver.py`` (recursive)
measure different servers, but with the same client run the same way, and
with unbound set up the same way around the part that differs (its records,
or the zones it recurses into).
"""

from __future__ import annotations

import re
import subprocess
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

    @property
    def all_noerror(self) -> bool:
        return "NOERROR" in self.codes and "(100.00%)" in self.codes


def dnsperf(server: str, port: int, query_file: Path, seconds: float) -> Dnsperf:
    """Run dnsperf (one client, 100 queries outstanding) against ``server:port``."""
    out = subprocess.run(["dnsperf", "-s", server, "-p", str(port), "-d", str(query_file),
                          "-l", str(seconds), "-c", "1", "-q", "100"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    if qps is None:
        raise SetupError(f"dnsperf printed no rate:\n{out}", "run dnsperf by hand with the same options")
    codes = re.search(r"Response codes:\s+(.*)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    return Dnsperf(float(qps.group(1)), codes.group(1) if codes else "no responses",
                   lost.group(1) if lost else "?")


def write_unbound_config(path: Path, address: str, port: int, body: str) -> Path:
    """unbound's config: the shared settings, then ``body``; checked with unbound-checkconf."""
    path.write_text(UNBOUND_SERVER.format(address=address, port=port) + body + UNBOUND_TAIL)
    check = subprocess.run(["unbound-checkconf", str(path)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SetupError(f"unbound-checkconf: {check.stdout}{check.stderr}", "see the config above")
    return path
