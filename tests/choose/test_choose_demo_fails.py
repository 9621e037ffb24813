"""The choose demo's failure mode: no nginx.  Its normal run is in tests/test_demos.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_before_starting_anything(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}
    result = subprocess.run([sys.executable, "-m", "learn_choose.demo"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found" in result.stderr and "apt-get install nginx-light" in result.stderr
    assert "listening" not in result.stdout
