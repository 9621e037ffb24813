"""Fixtures for the chat tests: chat server processes and nginx in front of them.

The shared fixtures (``procs``, ``private_redis``, ``chromium_page``) live in
``tests/conftest.py``; these build on ``procs``.  (pytest runs with
``--import-mode=importlib``, so helpers are shared as fixtures, not imports.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from learn_websocket.chat.proxy import render_chat_proxy
from wirelab_common.nginx_proxy import NginxSetup
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess

READY = r"listening on http://"


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
    """``chat_server(*args, server_id="s1", port=None)`` starts one chat server process."""

    def start(*args: str, server_id: str = "s1", port: int | None = None) -> ChatServerProcess:
        port = port or free_port()
        proc = procs.python("learn_websocket.chat.server", "--port", str(port), "--server-id", server_id,
                            *args, name=server_id, ready_line=READY)
        return ChatServerProcess(proc, port, server_id)

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
