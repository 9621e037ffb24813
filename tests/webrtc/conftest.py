"""Fixtures of the webrtc tests: one signaling server per module, and the loopback lab settings.

One signaling server per test module: starting uvicorn costs about a second, and
the server keeps no state between tests once their peers have left (each test
uses its own rooms).  It starts on ``--port 0`` and names its port in its ready line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import aioice.ice
import pytest

from learn_webrtc.peer import LAB_HOST
from wirelab_common.processes import start_server


def signaling_server(*options: str):
    """A signaling server process on a free port (``proc.url`` is its http:// URL)."""
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", "0", "-q", *options]
    return start_server(argv, name="signal")


def ws_url(proc) -> str:
    return proc.url.replace("http://", "ws://") + "/ws"


@pytest.fixture(scope="module")
def shared_signaling_url() -> Iterator[str]:
    with signaling_server() as proc:  # stopped by PID after the module
        yield ws_url(proc)


@pytest.fixture
def lab(monkeypatch):
    """Only 127.0.0.2 as a host candidate, and consent checks on a 1 s x 3 clock (undone after)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LAB_HOST])
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 1.0)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 3)


@pytest.fixture
def signaling_url(shared_signaling_url, lab):
    """The shared server's WebSocket URL, with the lab settings in force (aiortc peers in this process)."""
    return shared_signaling_url


@pytest.fixture
def stun_server():
    """Our server on a free UDP port (its ready line names it), stopped by PID after the test."""
    argv = [sys.executable, "-m", "learn_webrtc.stun_server", "--port", "0", "-v"]
    with start_server(argv, name="stun") as server:
        assert server.url == f"udp://127.0.0.1:{server.port}"
        yield server, server.port
