"""Fixtures for the graphql tests: two auction servers sharing one private Redis.

The shared fixtures (``procs``, ``private_redis``) live in ``tests/conftest.py``.
(pytest runs with ``--import-mode=importlib``, so helpers are shared as fixtures.)
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def one_server() -> Iterator[Auction]:
    """One auction server (s1) on its own Redis, shared by a module's tests that change no lot."""
    need_binary("redis-server", "redis-server")
    redis, url = start_redis()
    with redis:
        argv = [sys.executable, "-m", "learn_graphql.auction.server", "--port", "0", "--server-id", "s1",
                "--init-timeout", "1", "--redis-url", url]
        with start_server(argv, name="s1") as server:
            yield Auction(url, {"s1": server})
