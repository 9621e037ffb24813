"""Every check of the webrtc demo can fail: each act run with its mechanism switched off exits 1.

The normal run is tested once, in tests/test_demos.py.  Here each switch of
``python -m learn_webrtc.demo --help`` runs only the act it concerns (``--act N``)
and the demo must stop with exit code 1 and a FAILED line naming what went wrong.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn_webrtc import netns
from tests.conftest import need_binary, unavailable

pytestmark = pytest.mark.loopback

# switch -> (act, words the FAILED line must contain)
SWITCHES = {
    "--no-room-limit": (1, "a third peer should be refused with room-full"),
    "--no-trickle": (2, "trickle turned off: no candidate was sent"),
    "--no-flow-control": (3, "no flow control: the sender paused 0 time(s)"),
    "--no-sha256": (3, "a corrupted chunk went unnoticed"),
    "--frozen-video": (4, "the video did not move"),
    "--no-turn": (5, "no local candidates: relay-only policy without a reachable TURN server"),
    "--no-consent": (6, "alice never noticed that bob is gone"),
    "--no-stun": (7, "the NAT lab failed"),
}


def test_every_switch_of_the_demo_is_tested_here():
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.demo", "--help"], capture_output=True,
                            text=True, timeout=60)
    group = result.stdout.split("switches that make one act's check fail:")[1]
    assert set(re.findall(r"^  (--[\w-]+)", group, re.M)) == set(SWITCHES)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("switch", SWITCHES)
def test_the_act_fails_with_its_mechanism_off(switch, tmp_path):
    act, reason = SWITCHES[switch]
    if act == 7:
        why = netns.lab_unavailable()
        if why:
            unavailable(f"NAT lab: {why}")
        need_binary("turnserver", "coturn")  # the lab's case (c)
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.demo", "--act", str(act), switch],
                            cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED:")]
    assert failed and reason in failed[-1], result.stdout[-3000:] + result.stderr[-3000:]
