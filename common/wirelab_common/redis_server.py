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

from .errors import require_binary
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
