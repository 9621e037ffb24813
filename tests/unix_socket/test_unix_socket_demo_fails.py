"""The unix_socket demo's failure modes (its normal run is in tests/test_demos.py).

Each act has a switch that turns off the mechanism it shows; with it, the act's
check must fail: exit 1 and a message that names what went wrong.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import assert_demo_failed, run_demo, unavailable

pytestmark = pytest.mark.loopback


def run_unix_socket_demo(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return run_demo("learn_unix_socket.demo", *args, cwd=cwd, timeout=50)


@pytest.mark.timeout(60)
def test_act_1_fails_when_sessions_die_with_their_clients(tmp_path):
    assert_demo_failed(run_unix_socket_demo("--act", "1", "--no-persistence", cwd=tmp_path),
                       "session 'work' did not survive its clients detaching")


@pytest.mark.timeout(60)
def test_act_2_fails_when_the_server_does_not_check_credentials(tmp_path):
    if os.getuid() != 0:
        unavailable("act 2 acts as uid 65534, which needs root")
    assert_demo_failed(run_unix_socket_demo("--act", "2", "--no-peercred", cwd=tmp_path),
                       "the server let uid 65534 in")


@pytest.mark.timeout(60)
def test_act_3_fails_when_no_descriptor_is_passed(tmp_path):
    assert_demo_failed(run_unix_socket_demo("--act", "3", "--no-fd-passing", cwd=tmp_path),
                       "the LOG_FD frame came without a file descriptor")
