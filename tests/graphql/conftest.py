"""Fixtures for the graphql tests: two auction servers sharing one private Redis.

The shared fixtures (``procs``, ``private_redis``) live in ``tests/conftest.py``.
(pytest runs with ``--import-mode=importlib``, so helpers are shared as fixtures.)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import need_binary
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.redis_server import start_redis


@dataclass
class Auction:
    redis_url: str
    servers: dict[str, ManagedProcess]

    def ws(self, server_id: str = "s1") -> str:
        return f"ws://127.0.0.1:{self.servers[server_id].port}/graphql"

    def http(self, server_id: str = "s1") -> str:
        return f"http://127.0.0.1:{self.servers[server_id].port}/graphql"


@pytest.fixture
def start_auction(procs, private_redis) -> Callable[..., Auction]:
    """Start auction servers (s1, s2 by default) on the private Redis, with extra options."""
    _, url = private_redis

    def start(*options: str, ids: tuple[str, ...] = ("s1", "s2"), redis: bool = True) -> Auction:
        servers = {}
        for server_id in ids:
            argv = [sys.executable, "-m", "learn_graphql.auction.server", "--port", "0", "--server-id",
                    server_id, "--init-timeout", "1", *(["--redis-url", url] if redis else []), *options]
            proc = start_server(argv, name=server_id)
            procs.started.append(proc)
            servers[server_id] = proc
        return Auction(url, servers)

    return start


@pytest.fixture
def auction(start_auction) -> Auction:
    return start_auction()


def module_servers(*servers: tuple[str, str]) -> Iterator[Auction]:
    """Servers ((module, server id) each) on their own Redis, for a whole test module."""
    need_binary("redis-server", "redis-server")
    redis, url = start_redis()
    with redis, contextlib.ExitStack() as stack:
        started = {}
        for module, server_id in servers:
            argv = [sys.executable, "-m", module, "--port", "0", "--server-id", server_id,
                    "--init-timeout", "1", "--redis-url", url]
            started[server_id] = stack.enter_context(start_server(argv, name=server_id))
        yield Auction(url, started)


@pytest.fixture(scope="module")
def one_server() -> Iterator[Auction]:
    """One auction server (s1) on its own Redis, shared by a module's tests that change no lot."""
    yield from module_servers(("learn_graphql.auction.server", "s1"))


@pytest.fixture(scope="module")
def module_auction() -> Iterator[Auction]:
    """Two auction servers (s1, s2) for a whole module: its tests bid ever higher on one lot."""
    yield from module_servers(("learn_graphql.auction.server", "s1"), ("learn_graphql.auction.server", "s2"))


@pytest.fixture(scope="module")
def mixed_servers() -> Iterator[Auction]:
    """strawberry's server (s1) and our own (s3, ``learn_graphql.server``) on one Redis, per module."""
    yield from module_servers(("learn_graphql.auction.server", "s1"), ("learn_graphql.server", "s3"))
