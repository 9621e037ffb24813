"""The websocket demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback

DEMO = "learn_websocket.demo"


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_and_says_what_to_install(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}  # point at an nginx that is not there
    result = run_demo(DEMO, cwd=tmp_path, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found at NGINX=" in result.stderr
    assert "apt-get install nginx-light" in result.stderr


@pytest.mark.timeout(60)
def test_act_1_fails_when_the_server_never_answers_a_ping(tmp_path):
    assert_demo_failed(run_demo(DEMO, "--act", "1", "--no-pong", cwd=tmp_path, timeout=50),
                       "no pong within 3 s: the server did not answer our ping")


@pytest.mark.timeout(90)
def test_act_2_fails_when_the_servers_share_no_broker(tmp_path):
    need_binary("nginx", "nginx-light")
    need_binary("redis-server", "redis-server")
    assert_demo_failed(run_demo(DEMO, "--act", "2", "--no-redis", cwd=tmp_path),
                       "bob: alice's 'hi bob' never crossed from s")


@pytest.mark.timeout(90)
def test_act_3_fails_when_the_client_does_not_reconnect(tmp_path):
    need_binary("nginx", "nginx-light")
    need_binary("redis-server", "redis-server")
    assert_demo_failed(run_demo(DEMO, "--act", "3", "--no-reconnect", cwd=tmp_path),
                       "alice: alice never came back after s")
