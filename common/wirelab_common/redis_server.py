"""Where the Redis patterns find their Redis.

1. ``REDIS_URL`` in the environment, if set (e.g. the machine's Redis on 6379);
2. otherwise a throwaway ``redis-server`` on a free loopback port, stopped
   afterwards, that keeps nothing on disk;
3. otherwise a :class:`SetupError` saying how to install ``redis-server``.

Tests that kill or restart Redis always use (2): never the shared server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import SetupError, require_binary
from .ports import free_port
from .processes import ManagedProcess, start_process

INSTALL_HINT = "install it (Debian: `apt-get install redis-server`) or set REDIS_URL=redis://HOST:PORT/0"


def start_redis(port: int | None = None, *, aof_dir: str | None = None) -> tuple[ManagedProcess, str]:
    """Start a private redis-server; return the process and its URL.

    With ``aof_dir`` the server is crash-safe (append-only file, fsync always),
    so its data survives ``kill -9`` and a restart on the same port and dir.
    """
    binary = require_binary("redis-server", INSTALL_HINT)
    port = port or free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if aof_dir:
        os.makedirs(aof_dir, exist_ok=True)
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--dir", aof_dir]
    else:
        argv += ["--appendonly", "no", "--dir", tempfile.gettempdir()]
    proc = start_process(argv, name=f"redis:{port}", ready_line="Ready to accept connections",
                         ready_port=port)
    return proc, f"redis://127.0.0.1:{port}/0"


@contextmanager
def redis_url() -> Iterator[str]:
    """Yield a Redis URL: ``REDIS_URL``, or a throwaway server for the block's duration."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    proc, url = start_redis()
    with proc:
        yield url


async def check_redis(url: str, wait: float = 5.0) -> None:
    """PING ``url`` until it answers, for up to ``wait`` seconds, or raise SetupError with a hint.

    Servers call this before they listen, so a wrong ``--redis-url`` fails at
    start-up with a message instead of on the first request.  The short wait is
    for ``docker compose``, which starts Redis and its clients at the same time.
    """
    import asyncio

    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    client = aioredis.from_url(url, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    try:
        while True:
            try:
                await client.ping()
                return
            except (RedisError, OSError) as exc:
                if loop.time() >= deadline:
                    raise SetupError(f"cannot reach Redis at {url}: {exc}",
                                     "start redis-server (or `docker compose up redis`) or fix --redis-url"
                                     ) from None
                await asyncio.sleep(0.25)
    finally:
        await client.aclose()
