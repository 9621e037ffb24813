"""The webhook demo's failure modes: each act with its mechanism switched off must fail.

Its normal run is in tests/test_demos.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_webhook.demo"]
SWITCHES = [
    ("1", "--no-allow-target", "127.0.0.1 is a loopback address"),
    ("2", "--wrong-secret", "its secret is not the subscription's"),
    ("3", "--no-signature-check", "the receiver did not check the signature"),
    ("4", "--no-dedup", "the repeated webhook-id was not recognised"),
    ("5", "--no-retry", "DEAD after 1 attempt(s): not retried"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), SWITCHES, ids=[s for _, s, _ in SWITCHES])
def test_each_act_fails_when_its_mechanism_is_switched_off(tmp_path, act, switch, message):
    result = subprocess.run([*DEMO, "--act", act, switch], cwd=tmp_path, capture_output=True, text=True,
                            timeout=80)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert message in result.stdout + result.stderr
