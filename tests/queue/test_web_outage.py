"""The web API after Redis restarts: the next request succeeds, no 503 per dead pooled connection.

Found by the compose drill (``docker restart redis``): the web process kept its
pooled connections to the old Redis, and redis-py's asyncio client retries
nothing by default, so the first requests after the restart each got a 503.
"""

from __future__ import annotations

import sys

import httpx
import pytest

from wirelab_common.ports import free_port
from wirelab_common.processes import start_server
from wirelab_common.redis_server import start_redis

pytestmark = pytest.mark.loopback


def test_the_web_api_answers_at_once_after_a_redis_restart(tmp_path):
    port = free_port()  # redis-server cannot report the port it took: pick one for it
    server, url = start_redis(port, aof_dir=str(tmp_path))
    try:
        with start_server([sys.executable, "-m", "learn_queue.web", "--port", "0", "--redis-url", url, "-q"],
                          name="web") as web:
            jobs = f"http://127.0.0.1:{web.port}/jobs"
            with httpx.Client(timeout=10) as client:
                # Several requests at once leave several connections in the pool.
                for n in range(8):
                    answer = client.post(jobs, json={"class": "checksum", "args": [f"before {n}"]})
                    assert answer.status_code == 201
                server.kill()
                server, url = start_redis(port, aof_dir=str(tmp_path))
                answers = [client.post(jobs, json={"class": "checksum", "args": [f"after {n}"]}).status_code
                           for n in range(8)]
            assert answers == [201] * 8, web.output()
    finally:
        server.stop()
