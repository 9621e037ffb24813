"""The choose demo's switches: each turns off one mechanism an act shows, and that act must fail.

Exit 1, a message naming what went wrong, no traceback (``assert_demo_failed``).  Each
runs only its act (``--act N``); the normal run of all three is in tests/test_demos.py.
Without nginx the demo exits 2 before starting anything.
"""

from __future__ import annotations

import os

import pytest

from learn_choose.demo import spans, what_is_wrong
from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback

DEMO = "learn_choose.demo"


def failure_line(output: str) -> str:
    return output.split("FAILED:")[-1]


def test_the_failure_names_lost_repeated_and_extra_seqs_as_ranges():
    assert spans([5, 1, 2, 3, 9, 10]) == "1-3, 5, 9-10"
    assert what_is_wrong([1, 2, 3], [1, 2, 3]) == ""
    assert what_is_wrong([1, 2, 4], [1, 2, 3, 4]) == "lost seq 3"
    assert what_is_wrong([1, 2, 1, 2, 3], [1, 2, 3]) == "got seq 1-2 twice"
    assert what_is_wrong([1, 2, 3], [3]) == "got seq 1-2, which it should not"
    assert what_is_wrong([2, 1], [1, 2]) == "out of order: [2, 1]"


@pytest.mark.timeout(90)
def test_act_1_fails_when_a_burst_is_made_one_event_at_a_time(tmp_path):
    # Nothing is overwritten between two polls any more: the poller sees events the check says it cannot.
    output = assert_demo_failed(run_demo(DEMO, "--act", "1", "--spread-bursts", cwd=tmp_path, timeout=80),
                                "act 1: short-poll got seq ")
    assert "which it should not. --spread-bursts made each event in a step of its own" in output
    assert "long-poll" not in failure_line(output)  # the lossless methods still pass


@pytest.mark.timeout(90)
def test_act_2_fails_when_clients_reconnect_without_their_cursor(tmp_path):
    output = assert_demo_failed(run_demo(DEMO, "--act", "2", "--no-resume", cwd=tmp_path, timeout=80),
                                "act 2, across the restart:")
    failed = failure_line(output)
    for method in ("long-poll", "sse", "websocket", "chunked"):  # the server replayed them from seq 1
        assert f"{method} got seq 1-6 twice" in failed, failed
    assert "webhook got" not in failed and "webhook lost" not in failed  # its cursor is the server's


@pytest.mark.timeout(120)
def test_act_2_fails_when_the_server_comes_back_with_an_empty_data_directory(tmp_path):
    output = assert_demo_failed(run_demo(DEMO, "--act", "2", "--new-data-dir", cwd=tmp_path, timeout=110),
                                "act 2, across the restart:")
    failed = failure_line(output)
    for method in ("long-poll", "sse", "websocket", "webhook", "chunked"):
        assert f"{method} lost seq 7-12" in failed, failed


@pytest.mark.timeout(120)
def test_act_3_fails_when_the_tuned_nginx_drops_the_upgrade_headers(tmp_path):
    need_binary("nginx", "nginx-light")
    result = run_demo(DEMO, "--act", "3", "--no-upgrade-headers", cwd=tmp_path, timeout=110)
    output = assert_demo_failed(result, "act 3: every method should pass through the tuned nginx, but "
                                        "websocket: FAILS")
    assert "handshake refused: HTTP 404 instead of 101" in failure_line(output)
    assert "sse:" not in failure_line(output)  # only the WebSocket needs Upgrade passed on


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_before_starting_anything(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}  # an nginx that is not there
    result = run_demo(DEMO, cwd=tmp_path, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found" in result.stderr and "apt-get install nginx-light" in result.stderr
