"""Shared fixtures: the packaged source (ffmpeg) and a running streaming server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_binary
from wirelab_common.processes import ManagedProcess, start_server


@pytest.fixture(scope="session")
def vod() -> Path:
    need_binary("ffmpeg", "ffmpeg")
    from learn_streaming.packager import package_vod
    return package_vod()


@pytest.fixture
def server(vod) -> Iterator[ManagedProcess]:
    with start_server([sys.executable, "-m", "learn_streaming.server", "--port", "0", "-q"],
                      name="streaming", timeout=60) as proc:
        yield proc
