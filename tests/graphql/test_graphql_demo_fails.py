"""The graphql demo's failure modes (its normal run is in tests/test_demos.py).

Each switch turns off the mechanism an act shows; with it, the act's check
must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_graphql.demo"]


def run_demo(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEMO, *args], cwd=cwd, capture_output=True, text=True, timeout=80)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("switch", "act", "message"), [
    ("--no-redis", "1", "never saw bid #3 (dave's 25)"),
    ("--no-init-timeout", "2", "no connection_init at all: the server did not close within 4 s"),
    ("--no-auth", "2", "a stolen token in connection_init: the server did not close within 4 s"),
    ("--no-depth-limit", "2", "a query of depth 6 ran: the server has no depth limit"),
])
def test_each_switch_makes_its_act_fail(tmp_path, switch, act, message):
    need_binary("redis-server", "redis-server")
    result = run_demo("--act", act, switch, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert message in output, output[-3000:]
