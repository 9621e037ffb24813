"""The demo's persistence check can fail: act 5 without AOF must exit 1 and say what went wrong.

Act 5 adds an order to a stream, kills redis-server with kill -9 and starts it
again; a consumer that was down must then read the order.  That proves
persistence only if it fails when Redis keeps nothing on disk, so here the demo
runs with ``--no-aof`` (a real redis-server started with ``--appendonly no``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary


@pytest.mark.timeout(120)
def test_the_demo_without_aof_fails_act_5_and_names_the_lost_order(tmp_path):
    need_binary("redis-server", "redis-server")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own throwaway Redis
    result = subprocess.run([sys.executable, "-m", "learn_pubsub.demo", "--no-aof"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=110)
    out = result.stdout
    assert result.returncode == 1, out[-4000:] + result.stderr[-4000:]
    assert "comes back on the same port WITHOUT persistence (--no-aof)" in out
    assert ("FAILED: Streams: the order xadd-1, added before the crash, did not survive the restart "
            "(shipping read nothing)") in result.stderr
    after_restart = out.split("WITHOUT persistence (--no-aof)")[1]
    # The group was gone too, so shipping's consumer made a new one, on an empty stream.
    assert "consuming orders as shipping/s1 (group created at 0)" in after_restart
    assert "all checks passed" not in out and "Traceback" not in result.stderr
