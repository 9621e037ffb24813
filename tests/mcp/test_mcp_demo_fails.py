"""The mcp demo with each act's mechanism switched off: that act must fail, naming why.

Its normal run is in tests/test_demos.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_mcp.demo"]

SWITCHES = [
    ("1", "--no-confirm", "the host should ask before each delete_note (no, then yes); it asked: []"),
    ("2", "--no-cancel", "the server went on counting: no cancellation reached it"),
    ("3", "--no-guards", "the repetition guard should stop the second identical search: stopped by the "
                         "step limit guard: 50 tool calls made"),
    ("4", "--no-probe", "the SDK's server answers server/discover: expected 2026-07-28, got 2025-11-25"),
    ("5", "--no-completion", "typing 'mi' should offer the notes' words milk and mint: []"),
    ("6", "--no-subscribe", "host A heard no notifications/resources/updated for notes://n2 within 10 s"),
    ("7", "--no-consent", "the host should ask the user before each sampling request (no, then yes); "
                          "it asked: []"),
    ("8", "--no-elicitation", "the server should ask the user, who accepts: this client cannot answer "
                              "elicitation/create: it did not declare capabilities.elicitation"),
    ("9", "--no-retry", "the host should answer input_required and call again: resultType 'input_required' "
                        "is not handled by this host"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), SWITCHES, ids=[s for _, s, _ in SWITCHES])
def test_each_act_fails_when_its_mechanism_is_switched_off(tmp_path, act, switch, message):
    result = subprocess.run([*DEMO, "--act", act, switch], cwd=tmp_path, capture_output=True, text=True,
                            timeout=80)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"FAILED: {message}" in result.stderr


@pytest.mark.timeout(60)
def test_an_act_alone_passes_with_every_mechanism_on(tmp_path):
    result = subprocess.run([*DEMO, "--act", "3"], cwd=tmp_path, capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Act 3" in result.stdout and "Act 1" not in result.stdout and "Act 4" not in result.stdout
