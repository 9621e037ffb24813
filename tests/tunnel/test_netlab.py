"""The outbound-only lab in network namespaces (root): the app is unreachable except through the tunnel."""

from __future__ import annotations

import subprocess
import sys

import pytest

from learn_tunnel import netlab
from tests.conftest import need_binary, unavailable

pytestmark = pytest.mark.loopback


def need_lab() -> None:
    why = netlab.unavailable()
    if why:
        unavailable(why)
    need_binary("curl", "curl")


def run_lab(*args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "learn_tunnel.netlab", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=80)


@pytest.mark.timeout(90)
def test_the_app_answers_only_through_the_tunnel():
    need_lab()
    result = run_lab()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "straight to the app: curl exit 28" in result.stdout  # the SYN was dropped: curl timed out
    assert "through the relay's public URL: HTTP 200" in result.stdout


@pytest.mark.timeout(90)
def test_without_the_firewall_the_lab_fails_its_own_check():
    need_lab()
    result = run_lab("--no-firewall")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "the app answered a connection from outside" in result.stderr


def test_the_home_host_accepts_only_loopback_and_its_own_connections():
    commands = netlab.setup_commands(netlab.names("t"))
    rules = [argv[argv.index("INPUT") + 1:] for argv in commands if "iptables" in argv]
    assert rules == [["-i", "lo", "-j", "ACCEPT"],
                     ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                     ["-j", "DROP"]]
    assert all("wltunt-home" in argv for argv in commands if "iptables" in argv)
