"""`python -m learn_mcp.demo` is also a test: it checks what it sees and exits 0.

It runs once, with ``-v``: the summary lines are the same as without it, and the
detail lines (full JSON, Mcp-* headers) are checked too.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

DEMO = [sys.executable, "-m", "learn_mcp.demo", "-v"]


@pytest.mark.timeout(120)
def test_demo_runs_every_act_and_exits_0(tmp_path):
    result = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "> host     #1 server/discover (_meta version 2026-07-28)" in out  # the modern probe over stdio
    assert '"io.modelcontextprotocol/protocolVersion":"2026-07-28"' in out  # -v: the full JSON
    assert "POST #1 initialize protocolVersion=2025-11-25" in out  # the legacy handshake over HTTP
    assert "(Mcp-Session-Id)" in out
    assert "Mcp-Method: tools/call" in out and "Mcp-Name: slow_count" in out  # -v: modern headers
    assert "< host     notifications/progress 1/3 'counted 1 of 3'" in out
    assert "confirm delete_note" in out and "DENIED" in out and "approved" in out
    assert "stopped by the repetition guard" in out
    assert "stopped by the step limit guard" in out
    assert "> host     notifications/cancelled" in out  # stdio cancel
    assert "POST notifications/cancelled" in out  # 2025-11-25 HTTP cancel
    assert "closing its response stream (the modern cancel)" in out  # 2026-07-28 HTTP cancel
    assert "wirelab-sdk-notes" in out  # act 4 reached the SDK server
    assert "all checks passed" in out
