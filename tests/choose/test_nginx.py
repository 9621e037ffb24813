"""A real nginx in front of the feed, with its default settings and with the lab's tuned ones.

What the defaults break is measured by the lab (``python -m learn_choose.lab``); these
tests pin down each finding: the WebSocket handshake dies without the Upgrade headers,
a long poll held past ``proxy_read_timeout`` becomes a 504, and every method works
through the tuned config.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files

import httpx
import pytest

from wirelab_common.nginx_proxy import render_nginx_config

pytestmark = pytest.mark.differential


@pytest.fixture
def nginx(procs, nginx_path):
    made = []

    def start(template: str, upstream_port: int, extra: str = "") -> str:
        setup = render_nginx_config(files("learn_choose").joinpath(f"nginx/{template}.conf.template"),
                                    nginx=nginx_path, upstream=f"127.0.0.1:{upstream_port}", extra=extra)
        made.append(setup)
        procs.start(setup.argv, name="nginx", ready_port=setup.port)
        return setup.url("").rstrip("/")

    yield start
    for setup in made:
        setup.remove()


async def test_websocket_through_default_nginx_is_refused_404(feed_server, nginx, run_client):
    server = feed_server()
    client = await run_client("websocket", nginx("default", server.port))
    await asyncio.sleep(0)
    for _ in range(100):
        if client.sink.last_failure:
            break
        await asyncio.sleep(0.05)
    # nginx dropped Upgrade/Connection: the app saw a plain GET /ws, which no HTTP route serves.
    assert "HTTP 404 instead of 101" in client.sink.last_failure


def test_a_long_poll_held_past_proxy_read_timeout_becomes_504(feed_server, nginx):
    server = feed_server("--hold", "3")
    proxy = nginx("default", server.port, extra="proxy_read_timeout 1s;")
    assert httpx.get(f"{proxy}/longpoll?since=0", timeout=10).status_code == 504
    assert httpx.get(f"{server.base}/longpoll?since=0", timeout=10).status_code == 204  # direct: held 3 s


# Every method through both configs, except the WebSocket through the default one (refused, above).
METHODS = ("long-poll", "sse", "websocket", "chunked", "short-poll")
PASSING = [(m, t) for t in ("default", "tuned") for m in METHODS if (m, t) != ("websocket", "default")]


@pytest.mark.parametrize(("method", "template"), PASSING)
async def test_through_nginx(method, template, feed_server, nginx, run_client):
    server = feed_server()
    options = {"interval": 0.05} if method == "short-poll" else {}
    client = await run_client(method, nginx(template, server.port), **options)
    for _ in range(100):  # until the client holds its request or stream (a poller: has polled)
        stats = server.stats()
        if stats["open"] > 1 or stats["requests"].get("/poll/latest"):
            break
        await asyncio.sleep(0.05)
    server.publish(3)
    await client.wait_seqs(lambda seqs: seqs[-1:] == [3], "seq 3 through nginx", 10)
    assert client.sink.seqs == ([3] if method == "short-poll" else [1, 2, 3])


async def test_a_webhook_through_nginx_in_front_of_the_receiver(feed_server, nginx, run_client):
    server = feed_server()

    async def expose(port: int) -> str:
        return nginx("default", port)

    client = await run_client("webhook", server.base, expose=expose)
    for _ in range(100):
        if server.stats()["subscriptions"]:
            break
        await asyncio.sleep(0.05)
    server.publish(3)
    await client.wait_seqs(lambda seqs: seqs == [1, 2, 3], "seq 1..3 through nginx", 10)
