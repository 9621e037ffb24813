"""`make demo-queue` is also a test: the demo checks what it sees and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_demo_commands


@pytest.mark.timeout(120)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    need_demo_commands("queue")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own throwaway Redis
    result = subprocess.run([sys.executable, "-m", "learn_queue.demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "DEAD after 3 retries" in out
    assert "reaper: worker" in out and "back to their queues" in out
    assert "all checks passed" in out
