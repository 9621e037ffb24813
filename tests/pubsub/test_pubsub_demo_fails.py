"""Every check of the pubsub demo can fail: one switch per act turns its mechanism off, and exit is 1.

The normal run is in tests/test_demos.py.  Here each act runs alone (``--act N``)
with the switch that removes what it shows, and must fail, saying what went
wrong; a check that passed with its mechanism off would prove nothing.  Act 5
runs with ``--no-aof``: a real redis-server started with ``--appendonly no``,
killed with kill -9 and started again, must lose the order added before the
crash.  And without any Redis at all, the demo exits 2 and says how to get one.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback


def run_pubsub_demo(tmp_path, *args: str, timeout: float = 90, path: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own throwaway Redis
    if path is not None:
        env["PATH"] = path
    return run_demo("learn_pubsub.demo", *args, cwd=tmp_path, timeout=timeout, env=env)


@pytest.mark.timeout(100)
@pytest.mark.parametrize(("act", "switch", "failure"), [
    (1, "--no-subscribe", "FAILED: PUBLISH should reach our one subscriber, reached 0 (--no-subscribe"),
    (2, "--no-psubscribe", "FAILED: audit should get 3 message(s), got [] (--no-psubscribe: "
                           "SUBSCRIBE orders.* is a channel named 'orders.*', not a pattern)"),
    (3, "--no-output-limit", "FAILED: the slow subscriber should be cut off and miss messages, the fast one "
                             "none: it was not cut off and missed 0 of 2000"),
    (4, "--no-claim", "FAILED: c3 should claim c2's pending entries and process them;"),
])
def test_an_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, failure):
    need_binary("redis-server", "redis-server")
    result = run_pubsub_demo(tmp_path, "--act", str(act), switch)
    assert_demo_failed(result, failure)
    assert failure in result.stderr and "all checks passed" not in result.stdout


@pytest.mark.timeout(120)
def test_the_demo_without_aof_fails_act_5_and_names_the_lost_order(tmp_path):
    need_binary("redis-server", "redis-server")
    result = run_pubsub_demo(tmp_path, "--act", "5", "--no-aof", timeout=110)
    out = result.stdout
    assert_demo_failed(result, "did not survive the restart")
    assert "comes back on the same port WITHOUT persistence (--no-aof)" in out
    assert ("FAILED: Streams: the order xadd-1, added before the crash, did not survive the restart "
            "(shipping read nothing)") in result.stderr
    after_restart = out.split("WITHOUT persistence (--no-aof)")[1]
    # The group was gone too, so shipping's consumer made a new one, on an empty stream.
    assert "consuming orders as shipping/s1 (group created at 0)" in after_restart
    assert "all checks passed" not in out and "Traceback" not in result.stderr


@pytest.mark.timeout(60)
def test_demo_without_redis_exits_2_and_says_how_to_get_it(tmp_path):
    result = run_pubsub_demo(tmp_path, timeout=50, path=str(tmp_path))  # no redis-server on this PATH
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "redis-server not found" in result.stderr and "apt-get install redis-server" in result.stderr
