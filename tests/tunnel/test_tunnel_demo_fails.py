"""The tunnel demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

DEMO = [sys.executable, "-m", "learn_tunnel.demo"]


def run_demo(*args: str, cwd) -> str:
    result = subprocess.run([*DEMO, *args], cwd=cwd, capture_output=True, text=True, timeout=80)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    return output


@pytest.mark.timeout(90)
def test_act_2_fails_without_multiplexing(tmp_path):
    output = run_demo("--act", "2", "--no-multiplexing", cwd=tmp_path)
    assert "the quick request waited for the slow one" in output


@pytest.mark.timeout(90)
def test_act_3_fails_without_flow_control(tmp_path):
    assert "no backpressure" in run_demo("--act", "3", "--no-flow-control", cwd=tmp_path)


@pytest.mark.timeout(90)
def test_act_4_fails_when_the_agent_does_not_reconnect(tmp_path):
    assert "the agent did not come back after the relay restarted" in run_demo("--act", "4", "--no-reconnect",
                                                                            cwd=tmp_path)


@pytest.mark.timeout(90)
def test_act_5_fails_when_agents_process_redeliveries_again(tmp_path):
    output = run_demo("--act", "5", "--no-dedupe", cwd=tmp_path)
    assert "events without exactly one effect (id: times processed): {'e-11': 2}" in output


@pytest.mark.timeout(90)
def test_act_6_fails_when_the_relay_refuses_upgrades(tmp_path):
    output = run_demo("--act", "6", "--no-websocket", cwd=tmp_path)
    assert "the relay refused the WebSocket: HTTP 403" in output
