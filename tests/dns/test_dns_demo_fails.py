"""Every checked act of the dns demo can fail: with its mechanism switched off, the demo says so and exits 1.

Each case plays one act (``--act N``) with the demo switch that turns off what
the act shows; the normal run is tested once in tests/test_demos.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

CASES = [  # (act, switch, what the FAILED line must name)
    (2, "--no-delegation", "dig +trace should end at 192.0.2.10, not NXDOMAIN"),
    (3, "--no-cache", "the second query should come from the cache"),
    (4, "--no-slip", "(0 slipped, 0 over TCP)"),
    (5, "--no-notify", "the primary sent no NOTIFY that the secondary acknowledged"),
    (6, "--no-persist-record", "no _validation-persist TXT record"),
    (7, "--change-child-only", "the resolver never reached the new provider"),
    (8, "--no-serve-stale", "expected the stale answer 192.0.2.10, got SERVFAIL"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "reason"), CASES, ids=[c[1] for c in CASES])
def test_the_act_fails_with_its_mechanism_off(tmp_path, act, switch, reason):
    result = subprocess.run([sys.executable, "-m", "learn_dns.demo", "--act", str(act), switch],
                            cwd=tmp_path, capture_output=True, text=True, timeout=80)
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED:")]
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert failed and reason in failed[0], result.stderr[-3000:]
    assert f"act {act} should fail" in result.stdout  # the demo named the switch it was given
