"""`make demo-webhook` is also a test: the demo checks what it sees and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.timeout(120)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    result = subprocess.run([sys.executable, "-m", "learn_webhook.demo"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "webhook-signature: v1," in out  # the signed headers are shown
    assert "401" in out and "duplicate" in out
    assert "retry in" in out  # the outage is retried with backoff
    assert "all checks passed" in out
