"""The hybrid demo's failure modes (its normal run is in tests/test_demos.py).

Each switch turns off one mechanism; the act that shows it must then fail its
check: exit 1, with a message that names what went wrong, and no traceback.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback

DEMO = "learn_choose.hybrid.demo"


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
