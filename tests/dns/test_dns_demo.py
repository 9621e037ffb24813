"""The demo is a test: it runs every act, checks what it saw, and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.timeout(150)
def test_demo_runs_every_act_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "learn_dns.demo"], capture_output=True, text=True,
                            timeout=140)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    assert "referral to com." in out and "referral to example.com." in out
    assert "second: 0 (wire-bytes cache hit)" in out
    assert "over the response rate limit: slip" in out and "over the response rate limit: dropped" in out
    assert "truncated ones again over TCP" in out  # RRL: the slipped answers, fetched over TCP
    assert "-> 192.0.2.99" in out  # (a) the changed record, after the TTL
    assert "valid (letsencrypt.org may issue" in out  # (c)
    assert "-> 203.0.113.20" in out  # (b) the new provider, after the NS TTL
    assert "a stale answer" in out
    assert "all acts checked" in out
