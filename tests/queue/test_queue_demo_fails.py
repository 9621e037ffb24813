"""Every check of the queue demo can fail: one switch per act turns its mechanism off, and exit is 1.

The normal run is in tests/test_demos.py.  Here each act runs alone (``--act N``)
with the switch that removes what it shows: no workers (act 1), no retries
(act 2), no reaper (act 3).  The demo must exit 1 and say what went wrong; a
check that passed with its mechanism off would prove nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "failure"), [
    (1, "--no-workers", "should become done within 3 s; it is {"),
    (2, "--no-retry", "FAILED: expected 3 retries after the first failure and the error kept; "
                      "it died after 0 retries (--no-retry: enqueued with retry 0)"),
    (3, "--no-reaper", "after the reaper (--no-reaper: nobody gave the dead worker's job back to the queue)"),
])
def test_an_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, failure):
    need_binary("redis-server", "redis-server")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own throwaway Redis
    result = subprocess.run([sys.executable, "-m", "learn_queue.demo", "--act", str(act), switch],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=80)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert failure in result.stderr, result.stderr[-3000:]
    if act == 1:
        assert "'status': 'queued'" in result.stderr and "(--no-workers: nobody fetches" in result.stderr
    if act == 3:
        assert "'status': 'running'" in result.stderr  # still "running" on a worker that is gone
    assert "all checks passed" not in result.stdout and "Traceback" not in result.stderr
