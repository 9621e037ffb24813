"""Differential test: headless Chromium and an aiortc peer open a data channel through our server.

Everything runs in a private network namespace (``unshare -n``) with a second
loopback address, 127.0.0.2: see ``learn_webrtc/browser.py`` for why.  The
helper reports by exit code: 0 the browser and aiortc talked both ways, 1 a
check failed, 2 it cannot run here (then we skip, or fail in CI).  With ``--relay``
both sides are relay-only through coturn; the page takes the TURN server and the
policy from the signaling server's ``/config``.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn_webrtc.netns import can_unshare
from tests.conftest import need_binary, unavailable

pytestmark = pytest.mark.differential


def run_browser(*args: str) -> str:
    need_binary("chromium", "chromium")
    why = can_unshare()
    if why:
        unavailable(why)
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.browser", *args], capture_output=True,
                            text=True, timeout=140)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    return out


@pytest.mark.timeout(150)
def test_chromium_and_aiortc_exchange_chat_lines_over_a_data_channel():
    out = run_browser()
    # No ICE servers unless the signaling server is given some.
    assert "= chromium RTCConfiguration iceServers [], iceTransportPolicy all" in out
    assert '< aiortc   chat {"type":"chat","text":"hello from chromium"}' in out
    assert "echo: hello from aiortc" in out
    # Chromium offers no candidates on lo: aiortc learns its address from its checks.
    assert "<-> prflx" in out
    assert "chromium <-> aiortc: data channel works both ways" in out


@pytest.mark.timeout(150)
def test_chromium_and_aiortc_relay_only_through_coturn():
    need_binary("turnserver", "coturn")
    out = run_browser("--relay")
    assert re.search(r"= chromium RTCConfiguration iceServers \[turn:127\.0\.0\.1:\d+\?transport=udp\], "
                     r"iceTransportPolicy relay", out), out[-5000:]
    # Chromium gathered and trickled only a relay candidate ...
    sent = re.findall(r"> chromium signal candidate (candidate:.*)", out)
    assert sent and all(" typ relay " in line for line in sent), sent
    # ... and both ends name the same relay <-> relay pair: aiortc from aioice, Chromium from getStats().
    ours = re.search(r"= aiortc +selected pair relay (127\.0\.0\.1:\d+) <-> relay (127\.0\.0\.1:\d+)", out)
    theirs = re.search(r"= chromium selected pair relay (127\.0\.0\.1:\d+) <-> relay (127\.0\.0\.1:\d+)", out)
    assert ours and theirs, out[-5000:]
    assert (ours[1], ours[2]) == (theirs[2], theirs[1])
    assert "< aiortc   chat {\"type\":\"chat\",\"text\":\"echo: hello from aiortc\"}" in out
