"""`make demo-pubsub` is also a test: the demo checks what it sees and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_demo_commands


@pytest.mark.timeout(150)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    need_demo_commands("pubsub")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own throwaway Redis
    result = subprocess.run([sys.executable, "-m", "learn_pubsub.demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=140)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "*2\\r\\n$9\\r\\nSUBSCRIBE\\r\\n" in out  # the exact bytes are shown
    assert "0 receivers" in out  # the offline subscriber's loss is shown
    assert "claimed" in out and "all checks passed" in out


@pytest.mark.timeout(60)
def test_demo_without_redis_exits_2_and_says_how_to_get_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PATH"] = str(tmp_path)  # no redis-server here
    result = subprocess.run([sys.executable, "-m", "learn_pubsub.demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "redis-server not found" in result.stderr and "apt-get install redis-server" in result.stderr
