"""One signaling server per test module: starting uvicorn costs about a second, and the
server keeps no state between tests once their peers have left (each test uses its own rooms)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from wirelab_common.ports import free_port
from wirelab_common.processes import start_process

READY = r"listening on http://"


@pytest.fixture(scope="module")
def shared_signaling_url() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", str(port)]
    with start_process(argv, name="signal", ready_line=READY):  # stopped by PID after the module
        yield f"ws://127.0.0.1:{port}/ws"
