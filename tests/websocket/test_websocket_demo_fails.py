"""The websocket demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_websocket.demo"]


def run_demo(*args: str, cwd, timeout: float = 80, env: dict[str, str] | None = None):
    return subprocess.run([*DEMO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.mark.timeout(60)
def test_demo_without_nginx_exits_2_and_says_what_to_install(tmp_path):
    env = {**os.environ, "NGINX": str(tmp_path / "nginx")}  # point at an nginx that is not there
    result = run_demo(cwd=tmp_path, timeout=50, env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "nginx not found at NGINX=" in result.stderr
    assert "apt-get install nginx-light" in result.stderr


@pytest.mark.timeout(60)
def test_act_1_fails_when_the_server_never_answers_a_ping(tmp_path):
    result = run_demo("--act", "1", "--no-pong", cwd=tmp_path, timeout=50)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "no pong within 3 s: the server did not answer our ping" in output


@pytest.mark.timeout(90)
def test_act_2_fails_when_the_servers_share_no_broker(tmp_path):
    need_binary("nginx", "nginx-light")
    need_binary("redis-server", "redis-server")
    result = run_demo("--act", "2", "--no-redis", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "bob: alice's 'hi bob' never crossed from s" in output


@pytest.mark.timeout(90)
def test_act_3_fails_when_the_client_does_not_reconnect(tmp_path):
    need_binary("nginx", "nginx-light")
    need_binary("redis-server", "redis-server")
    result = run_demo("--act", "3", "--no-reconnect", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "alice: alice never came back after s" in output
