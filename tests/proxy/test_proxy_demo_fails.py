"""The proxy demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

CASES = [
    ("1", "--no-forwarded", "no X-Forwarded-Host"),
    ("2", "--no-rewrite", "leads out of /blog"),
    ("3", "--no-normalize", "did not resolve to the main site's /admin"),
    ("4", "--no-timeout", "not 504"),
    ("5", "--no-strict", "the proxy accepted it"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), CASES, ids=[c[1] for c in CASES])
def test_the_act_fails_when_its_mechanism_is_off(tmp_path, act, switch, message):
    result = subprocess.run(
        [sys.executable, "-m", "learn_proxy.demo", "--act", act, switch],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=80,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert message in output, output[-3000:]
