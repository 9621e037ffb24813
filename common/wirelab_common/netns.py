"""Network namespaces for the labs that build a small network of their own.

webrtc's NAT lab (two home routers and a public network) and the tunnel's
outbound-only host each make a few namespaces, run commands in them and delete
them afterwards.  What they share is here: can this process build a namespace at
all, run one setup command or fail with what to do, and delete namespaces with
whatever still runs inside them.  The topologies stay with their patterns.

Everything needs root (CAP_NET_ADMIN) and ``ip`` from iproute2.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence

from .errors import SetupError

NEEDS = (("ip", "iproute2"), ("iptables", "iptables"))


def unavailable(lab: str, probe_name: str, needs: Sequence[tuple[str, str]] = NEEDS) -> str | None:
    """None if this process can build ``lab`` (root, the commands, ``ip netns add``), else why not.

    ``probe_name`` is a namespace made and deleted at once: root in a container may
    still lack the capability (CAP_SYS_ADMIN) that creating one needs."""
    if os.geteuid() != 0:
        return f"{lab} creates network namespaces, which needs root (CAP_NET_ADMIN)"
    for binary, package in needs:
        if shutil.which(binary) is None:
            return f"{binary} not found on PATH (apt-get install {package})"
    made = subprocess.run(["ip", "netns", "add", probe_name], capture_output=True, text=True, timeout=10)
    subprocess.run(["ip", "netns", "del", probe_name], capture_output=True, timeout=10)
    return None if made.returncode == 0 else f"ip netns add failed: {made.stderr.strip()}"


def run(argv: Sequence[str], what_to_do: str) -> None:
    """Run one setup command; a failure is a SetupError quoting the command and its stderr."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}", what_to_do)


def existing() -> list[str]:
    """The names of the namespaces that exist now (``ip netns list``)."""
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def delete(names: Iterable[str]) -> None:
    """Kill what still runs inside each namespace (only a lab's own processes live there), then
    delete it; a name that does not exist is skipped."""
    present = set(existing())
    for name in names:
        if name not in present:
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10)
        for pid in pids.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
