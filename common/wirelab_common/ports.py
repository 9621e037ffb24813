"""Free TCP ports on loopback, and a clear error when a chosen port is taken.

Tests and demos never use fixed ports: they ask the kernel for a free one.
The standard ports of the services that run on the development machines
(Redis, PostgreSQL, MariaDB, RabbitMQ, Mosquitto, NATS) are never handed out.
"""

from __future__ import annotations

import socket

from .errors import SetupError

# Ports already owned by services on the development machines: never ours.
RESERVED_PORTS = frozenset({1883, 3306, 4222, 5432, 5672, 6379})


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    There is a small race (another process may take it before we bind), which
    is why servers are always checked for readiness after they start.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int) -> None:
    """Raise SetupError if ``host:port`` cannot be bound, saying what to do."""
    if port in RESERVED_PORTS:
        raise SetupError(
            f"port {port} belongs to a service already running on this machine",
            "choose another port with --port (or 0 for any free port)",
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SetupError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                f"stop what uses it (`ss -ltnp 'sport = :{port}'`) or pass another --port",
            ) from None
