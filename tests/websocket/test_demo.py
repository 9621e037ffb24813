"""The websocket demo's failure modes (its normal run is in tests/test_demos.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_websocket.demo"]


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_and_says_what_to_install(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}  # point at an nginx that is not there
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found at NGINX=" in result.stderr
    assert "apt-get install nginx-light" in result.stderr
