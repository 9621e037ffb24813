"""`make demo-sse` is also a test: the demo checks what it sees and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_demo_commands

DEMO = [sys.executable, "-m", "learn_sse.demo"]


@pytest.mark.timeout(120)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    need_demo_commands("sse")
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "| retry: 500" in out  # the raw wire format is shown
    assert "nothing lost, nothing twice, across a crash" in out
    assert "data: [DONE]" in out
    assert "all checks passed" in out


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_before_starting_anything(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found" in result.stderr and "apt-get install nginx-light" in result.stderr
    assert "listening" not in result.stdout
