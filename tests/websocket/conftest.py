"""Fixtures for the chat tests: chat server processes and nginx in front of them.

The shared fixtures (``procs``, ``private_redis``, ``chromium_page``) live in
``tests/conftest.py``; these build on ``procs``.  (pytest runs with
``--import-mode=importlib``, so helpers are shared as fixtures, not imports.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from learn_websocket.chat.proxy import render_chat_proxy
from wirelab_common.nginx_proxy import NginxSetup
from wirelab_common.processes import ManagedProcess, start_server


@dataclass
class ChatServerProcess:
    proc: ManagedProcess
    port: int
    server_id: str

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@pytest.fixture
def chat_server(procs) -> Callable[..., ChatServerProcess]:
    """``chat_server(*args, server_id="s1", port=0)`` starts one chat server process.

    ``port=0`` (the default) lets the server pick one and name it in its ready line;
    a restart passes the port the first run got.
    """

    def start(*args: str, server_id: str = "s1", port: int = 0) -> ChatServerProcess:
        proc = start_server([sys.executable, "-m", "learn_websocket.chat.server", "--port", str(port),
                             "--server-id", server_id, *args], name=server_id)
        procs.started.append(proc)
        return ChatServerProcess(proc, proc.port, server_id)

    return start


@pytest.fixture
def nginx_proxy(procs, nginx_path) -> Iterator[Callable[..., tuple[NginxSetup, ManagedProcess]]]:
    """``nginx_proxy([(host, port), ...])`` renders a config, starts nginx, waits for its port."""
    setups: list[tuple[NginxSetup, ManagedProcess]] = []

    def start(upstreams: list[tuple[str, int]]) -> tuple[NginxSetup, ManagedProcess]:
        setup = render_chat_proxy(upstreams, nginx=nginx_path)
        proc = procs.start(setup.argv, name="nginx", ready_port=setup.port)
        setups.append((setup, proc))
        return setup, proc

    yield start
    for setup, proc in setups:
        proc.stop()  # before removing its directory: nginx writes its pid and logs there
        setup.remove()


@pytest.fixture
def echo_server(procs) -> Callable[..., tuple[ManagedProcess, str]]:
    """``echo_server(*args)`` starts the hand-rolled echo server on ``--port 0``: (process, ws:// URL)."""

    def start(*args: str) -> tuple[ManagedProcess, str]:
        proc = start_server([sys.executable, "-m", "learn_websocket.server", "--port", "0", *args],
                            name="server")
        procs.started.append(proc)
        return proc, f"ws://127.0.0.1:{proc.port}/"

    return start
