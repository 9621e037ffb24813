"""Fixtures for the unix_socket tests: a session server process on a socket in the test's own directory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

import pytest

from wirelab_common.processes import ManagedProcess, start_process

READY = r"listening on unix:"


def start_session_server(socket_path: str, *extra: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "learn_unix_socket.server", "--socket", socket_path, *extra]
    return start_process(argv, name="server", ready_line=READY, timeout=15)


@pytest.fixture
def short_tmp() -> Iterator[str]:
    """A directory with a short path (a Unix socket path holds at most 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="ux-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_factory(short_tmp) -> Iterator[Callable[..., tuple[ManagedProcess, str]]]:
    started: list[ManagedProcess] = []

    def start(*extra: str, name: str = "default") -> tuple[ManagedProcess, str]:
        path = os.path.join(short_tmp, "run", name)
        proc = start_session_server(path, *extra)
        started.append(proc)
        return proc, path

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def server(server_factory) -> tuple[ManagedProcess, str]:
    """(the server process, its socket path)."""
    return server_factory()


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
