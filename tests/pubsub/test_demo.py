"""The pubsub demo's failure modes (its normal run is in tests/test_demos.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.timeout(60)
def test_demo_without_redis_exits_2_and_says_how_to_get_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PATH"] = str(tmp_path)  # no redis-server here
    result = subprocess.run([sys.executable, "-m", "learn_pubsub.demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "redis-server not found" in result.stderr and "apt-get install redis-server" in result.stderr
