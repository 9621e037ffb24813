"""Fixtures for the proxy tests: the two backends, our proxy, nginx and the naive proxy, as real processes."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import Processes
from wirelab_common.processes import ManagedProcess, start_server

PY = sys.executable


@dataclass
class Backends:
    main: ManagedProcess
    blog: ManagedProcess

    @property
    def routes(self) -> list[str]:
        return [
            "--route",
            f"/=main@127.0.0.1:{self.main.port}",
            "--route",
            f"/blog=blog@127.0.0.1:{self.blog.port}",
            "--seo",
            "/blog=http://blog.wirelab.test",
        ]


@pytest.fixture
def backends(procs: Processes) -> Backends:
    main = start_server([PY, "-m", "learn_proxy.main_site", "--port", "0", "-q"], name="main", timeout=30)
    procs.started.append(main)
    blog = start_server([PY, "-m", "learn_proxy.static_server", "--port", "0"], name="blog", timeout=30)
    procs.started.append(blog)
    return Backends(main, blog)


@pytest.fixture
def start_proxy(procs: Processes, backends: Backends) -> Callable[..., ManagedProcess]:
    """``start_proxy(*extra)``: our proxy in front of both backends (its trace is collected)."""

    def start(*extra: str) -> ManagedProcess:
        proc = start_server(
            [PY, "-m", "learn_proxy.server", "--port", "0", *backends.routes, *extra],
            name="proxy",
            timeout=30,
        )
        procs.started.append(proc)
        return proc

    return start


@pytest.fixture
def proxy(start_proxy) -> ManagedProcess:
    return start_proxy("--read-timeout", "1")


@pytest.fixture
def nginx(procs: Processes, backends: Backends, nginx_path: str) -> Iterator[str]:
    """nginx with learn_proxy/nginx/proxy.conf.template; yields its base URL."""
    from learn_proxy.nginx_ref import render

    setup = render(
        ("127.0.0.1", backends.main.port), ("127.0.0.1", backends.blog.port), read_timeout=1, nginx=nginx_path
    )
    proc = procs.start(setup.argv, name="nginx", ready_port=setup.port)
    try:
        yield setup.url().rstrip("/")
    finally:
        proc.stop()
        setup.remove()


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            answer += b"<timeout>"
    return answer
