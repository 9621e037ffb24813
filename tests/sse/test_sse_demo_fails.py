"""The sse demo's failure modes: no nginx, and each act with its mechanism switched off.

Its normal run is in tests/test_demos.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_sse.demo"]


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_before_starting_anything(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found" in result.stderr and "apt-get install nginx-light" in result.stderr
    assert "listening" not in result.stdout


SWITCHES = [
    ("1", "--no-blank-line", "only a blank line dispatches an event"),
    ("2", "--no-last-event-id", "ids should be 3..14 with no gap and no repeat"),
    ("3", "--no-stream", "expected a stream of chunks ending with data: [DONE]"),
    ("4", "--proxy-buffering-on", "nginx held them back (proxy_buffering on)"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), SWITCHES, ids=[s for _, s, _ in SWITCHES])
def test_each_act_fails_when_its_mechanism_is_switched_off(tmp_path, act, switch, message):
    if act == "4":
        need_binary("nginx", "nginx-light")
    result = subprocess.run([*DEMO, "--act", act, switch], cwd=tmp_path, capture_output=True, text=True,
                            timeout=80)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert message in result.stdout + result.stderr
