"""The streaming demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary, unavailable

pytestmark = pytest.mark.loopback


def run_demo(*args: str, cwd, timeout: int = 80) -> subprocess.CompletedProcess:
    need_binary("ffmpeg", "ffmpeg")
    return subprocess.run([sys.executable, "-m", "learn_streaming.demo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(90)
def test_act_2_fails_without_abr(tmp_path):
    result = run_demo("--act", "2", "--no-abr", cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "the player should reach r2 before the throttle" in result.stderr


@pytest.mark.timeout(90)
def test_act_3_fails_without_retries(tmp_path):
    result = run_demo("--act", "3", "--no-retry", cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "failed (HTTP 404) and retries are off" in result.stderr


@pytest.mark.timeout(90)
def test_act_4_fails_without_stall_detection(tmp_path):
    result = run_demo("--act", "4", "--no-stall-detection", cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "after 8 s the player had not said so" in result.stderr


@pytest.mark.timeout(150)
def test_act_6_fails_without_abr_when_the_kernel_throttles(tmp_path):
    if os.getuid() != 0:
        unavailable("act 6 builds a network namespace and runs tc, which needs root")
    need_binary("tc", "iproute2")
    result = run_demo("--act", "6", "--no-abr", cwd=tmp_path, timeout=140)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "the player should reach r2 before the throttle" in result.stderr
    assert "the shaping lab failed (exit 1)" in result.stderr
