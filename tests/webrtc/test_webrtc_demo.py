"""The demo is a test: run it as learners do and check its exit code and key lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import need_binary


@pytest.mark.timeout(150)
def test_demo_runs_every_act_and_exits_0():
    need_binary("turnserver", "coturn")
    # --no-nat: act 7 is nat_lab.py, which has its own tests; the suite stays short.
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.demo", "--no-nat"], capture_output=True,
                            text=True, timeout=140)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-2000:]
    for line in [
        "closed by the server with 4003",
        "gathered local candidate typ host",
        "remote candidate typ host",
        "connectionState -> connected",
        "SHA-256 verified",
        "transfer rejected: SHA-256 mismatch: corrupted chunk(s) [7]",
        "video 45 frames",
        "selected pair relay 127.0.0.1:",
        "this line went through the relay",
        "bob's slot is free again",
        "consent checks went unanswered",
        "no local candidates: relay-only policy",
        "all checks passed",
    ]:
        assert line in out, f"missing {line!r} in the demo output"
