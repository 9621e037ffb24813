"""The hybrid demo's failure modes (its normal run is in tests/test_demos.py).

Each switch turns off one mechanism; the act that shows it must then fail its
check: exit 1, with a message that names what went wrong, and no traceback.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback

DEMO = "learn_choose.hybrid.demo"


@pytest.mark.timeout(60)
def test_demo_without_redis_server_exits_2_and_says_what_to_install(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"}  # never used
    result = run_demo(DEMO, cwd=tmp_path, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "redis-server not found" in result.stderr and "apt-get install redis-server" in result.stderr


@pytest.mark.timeout(120)
def test_act_2_fails_when_the_servers_fan_out_a_replayed_webhook(tmp_path):
    need_binary("redis-server", "redis-server")
    assert_demo_failed(run_demo(DEMO, "--no-dedup", cwd=tmp_path, timeout=100),
                       "act 2: the replay was not recognised as a duplicate")


@pytest.mark.timeout(120)
def test_act_3_fails_when_subscribers_reconnect_without_last_event_id(tmp_path):
    need_binary("redis-server", "redis-server")
    output = assert_demo_failed(run_demo(DEMO, "--no-last-event-id", cwd=tmp_path, timeout=100),
                                "act 3: alice never got")
    assert "act 1" not in output.split("FAILED:")[-1]  # acts 1 and 2 passed: only the resume is missing
