"""Fixtures for the tunnel tests: a local app, a relay and an agent, each a real process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import PYTHON, Processes
from wirelab_common.processes import ManagedProcess, start_server

TOKEN = "test-token"
AGENT_PORT = r"agents connect to ws://127\.0\.0\.1:(\d+)/connect"


@dataclass
class Tunnel:
    procs: Processes
    app: ManagedProcess
    relay: ManagedProcess
    agent: ManagedProcess | None
    agent_port: int
    name: str = "demo"

    @property
    def public(self) -> str:
        """The tunnel's public URL in the Host form."""
        return f"http://{self.name}.localhost:{self.relay.port}"

    @property
    def by_path(self) -> str:
        """The same in the path form (for clients that do not resolve *.localhost, like httpx)."""
        return f"http://127.0.0.1:{self.relay.port}/t/{self.name}"

    @property
    def relay_ws(self) -> str:
        return f"ws://127.0.0.1:{self.agent_port}"

    def start_agent(self, name: str | None = None, token: str = TOKEN, wait: bool = True) -> ManagedProcess:
        argv = ["--relay", self.relay_ws, "--name", name or self.name, "--to", self.app.url, "--token", token]
        proc = self.procs.python("learn_tunnel.agent", *argv, name="agent",
                                 ready_line="registered as" if wait else None)
        if name is None or name == self.name:
            self.agent = proc
        return proc

    def start_relay(self, *extra: str, port: int = 0, agent_port: int = 0) -> None:
        argv = [PYTHON, "-m", "learn_tunnel.relay", "--port", str(port), "--agent-port", str(agent_port),
                "--token", TOKEN, *extra]
        self.relay = start_server(argv, name="relay")
        self.procs.started.append(self.relay)
        self.agent_port = int(self.relay.wait_line(AGENT_PORT, 0).group(1))


def make_tunnel(procs: Processes, *relay_args: str) -> Tunnel:
    app = start_server([PYTHON, "-m", "learn_tunnel.app", "--port", "0"], name="app")
    procs.started.append(app)
    tunnel = Tunnel(procs, app, app, None, 0)
    tunnel.start_relay(*relay_args)
    tunnel.start_agent()
    return tunnel


@pytest.fixture
def tunnel(procs: Processes) -> Iterator[Tunnel]:
    """app <- agent == WebSocket ==> relay, with the relay's 504 after 2 s."""
    yield make_tunnel(procs, "--response-timeout", "2")
