"""The streaming demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo, unavailable

pytestmark = pytest.mark.loopback


def run_streaming_demo(*args: str, cwd, timeout: int = 80) -> subprocess.CompletedProcess[str]:
    need_binary("ffmpeg", "ffmpeg")
    return run_demo("learn_streaming.demo", *args, cwd=cwd, timeout=timeout)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("act", "switch", "message"), [
    (2, "--no-abr", "the player should reach r2 before the throttle"),
    (3, "--no-retry", "failed (HTTP 404) and retries are off"),
    (4, "--no-stall-detection", "after 8 s the player had not said so"),
])
def test_an_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, message):
    result = run_streaming_demo("--act", str(act), switch, cwd=tmp_path)
    assert_demo_failed(result, message)
    assert message in result.stderr  # the check's own FAILED line, not a trace line


@pytest.mark.timeout(150)
def test_act_6_fails_without_abr_when_the_kernel_throttles(tmp_path):
    if os.getuid() != 0:
        unavailable("act 6 builds a network namespace and runs tc, which needs root")
    need_binary("tc", "iproute2")
    result = run_streaming_demo("--act", "6", "--no-abr", cwd=tmp_path, timeout=140)
    assert_demo_failed(result, "the shaping lab failed (exit 1)")
    assert "the player should reach r2 before the throttle" in result.stderr
