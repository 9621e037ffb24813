"""coturn, the TURN server (RFC 8656), on loopback: start it, and know its address and user.

Reading order: ... peer -> file_transfer -> media -> **turn** -> chat -> demo.

When neither peer can reach the other directly (two symmetric NATs, a firewall
that allows only outbound UDP to one server), ICE falls back to a *relay*
candidate: an address on a TURN server that forwards between the peers.  Each
peer asks the server for an allocation (Allocate, with the long-term credential
mechanism: a 401 with a realm and nonce first, then the request again with a
MESSAGE-INTEGRITY computed from user:realm:password), then a permission for
the other peer's address (CreatePermission), then sends data inside
Send/Data indications or a bound channel (ChannelBind, 4-byte ChannelData headers).

``RTCConfiguration(iceTransportPolicy=RELAY)`` (aiortc 1.16 supports it; aioice
then gathers no host or server-reflexive candidates at all, RFC 9429 §3.5.3)
forces every byte through the relay even on loopback, which is how we prove
the relay path works.

The command line is the one in PEERS.md: listen and relay on 127.0.0.1 only,
a user ``test:secret`` in realm ``example.test``, no TLS/DTLS, no CLI, and
``--allow-loopback-peers`` (coturn refuses to relay to 127.0.0.0/8 by default,
a protection against using the relay to reach the server's own services).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from wirelab_common.errors import SetupError, require_binary
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, ProcessNotReady, start_process

USER, PASSWORD, REALM = "test", "secret", "example.test"


@dataclass(frozen=True)
class Turn:
    host: str
    port: int
    user: str
    password: str
    process: ManagedProcess

    @property
    def server(self) -> tuple[str, int, str, str]:
        """What ``peer.configuration(turn=...)`` takes."""
        return self.host, self.port, self.user, self.password

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}"


def relay_port_range(size: int = 20) -> tuple[int, int]:
    """A small range of UDP ports for relay allocations, starting at a free port."""
    start = free_port()
    start = min(start, 65535 - size)
    return start, start + size - 1


def turnserver_argv(port: int, relay_ports: tuple[int, int], directory: str,
                    host: str = "127.0.0.1") -> list[str]:
    """The command line of PEERS.md on ``host`` (``nat_lab`` uses it on the lab's public address)."""
    binary = require_binary("turnserver", "apt-get install coturn (the coturn TURN server)")
    loopback = ["--allow-loopback-peers"] if host.startswith("127.") else []  # see the module docstring
    return [
        binary, "-n", f"--listening-ip={host}", f"--relay-ip={host}", f"--listening-port={port}",
        f"--min-port={relay_ports[0]}", f"--max-port={relay_ports[1]}",
        "--lt-cred-mech", f"--user={USER}:{PASSWORD}", f"--realm={REALM}", "--fingerprint",
        "--no-tls", "--no-dtls", "--no-cli", *loopback,
        f"--userdb={directory}/turndb", f"--pidfile={directory}/turn.pid",
        "--log-file=stdout", "--simple-log",
    ]


@contextlib.contextmanager
def coturn(host: str = "127.0.0.1", echo: bool = False) -> Iterator[Turn]:
    """A coturn process on free ports for the duration of the block (stopped by PID)."""
    port = free_port(host)
    with tempfile.TemporaryDirectory(prefix="learn-webrtc-turn-") as directory:
        argv = turnserver_argv(port, relay_port_range(), directory, host)
        try:
            # coturn logs "... listener opened on : 127.0.0.1:P" once per socket; readiness is the port.
            process = start_process(argv, name="coturn", ready_port=port, host=host, echo=echo)
        except ProcessNotReady as exc:
            raise SetupError(f"turnserver did not start: {exc}",
                             "run the command by hand to see why") from None
        with process:
            yield Turn(host, port, USER, PASSWORD, process)
