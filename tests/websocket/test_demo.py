"""`make demo-websocket` is also a test: the demo checks what it sees and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_demo_commands

DEMO = [sys.executable, "-m", "learn_websocket.demo"]


@pytest.mark.timeout(120)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    need_demo_commands("websocket")
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "Sec-WebSocket-Accept:" in out  # handshake headers are shown
    assert "> client   CONT" in out  # a fragmented message
    assert "alice    connection closed: code 1001" in out  # the restart is seen as 1001
    assert "all checks passed" in out


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_and_says_what_to_install(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}  # point at an nginx that is not there
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found at NGINX=" in result.stderr
    assert "apt-get install nginx-light" in result.stderr
