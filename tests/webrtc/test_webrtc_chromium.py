"""Differential test: headless Chromium and an aiortc peer open a data channel through our server.

Everything runs in a private network namespace (``unshare -n``) with a second
loopback address, 127.0.0.2: see ``learn_webrtc/browser.py`` for why.  The
helper reports by exit code: 0 the browser and aiortc talked both ways, 1 a
check failed, 2 it cannot run here (then we skip, or fail in CI).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from learn_webrtc.netns import can_unshare
from tests.conftest import need_binary, unavailable


@pytest.mark.timeout(150)
def test_chromium_and_aiortc_exchange_chat_lines_over_a_data_channel():
    need_binary("chromium", "chromium")
    why = can_unshare()
    if why:
        unavailable(why)
    result = subprocess.run([sys.executable, "-m", "learn_webrtc.browser"], capture_output=True,
                            text=True, timeout=140)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert '< aiortc   chat {"type":"chat","text":"hello from chromium"}' in out
    assert "echo: hello from aiortc" in out
    # Chromium offers no candidates on lo: aiortc learns its address from its checks.
    assert "<-> prflx" in out
    assert "chromium <-> aiortc: data channel works both ways" in out
