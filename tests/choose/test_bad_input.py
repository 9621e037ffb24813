"""Bad input gets a clear 400 (or a 1008 close) and the server goes on serving the next client."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize("path", ["/longpoll?since=abc", "/longpoll?since=-1", "/longpoll?since=99",
                                  "/sse?since=x", "/stream?since=1e3", "/stream?since=5"])
def test_a_bad_cursor_is_a_400_that_says_why(path, feed_server):
    server = feed_server()
    server.publish(3)
    response = httpx.get(server.base + path, timeout=5)
    assert response.status_code == 400
    assert "since" in response.json()["error"]
    ok = httpx.get(server.base + "/longpoll?since=2", timeout=5)  # and the next request is served
    assert ok.status_code == 200 and [e["seq"] for e in ok.json()] == [3]


def test_a_bad_last_event_id_is_a_400(feed_server):
    server = feed_server()
    response = httpx.get(server.base + "/sse", headers={"Last-Event-ID": "7"}, timeout=5)
    assert response.status_code == 400 and "ahead of the newest event" in response.json()["error"]


@pytest.mark.parametrize("body", [b"not json", b'{"since": 0}', b'{"url": "ftp://x/hook"}',
                                  b'{"url": "http://127.0.0.1:1/hook", "since": "soon"}'])
def test_a_bad_subscription_is_a_400(body, feed_server):
    server = feed_server()
    response = httpx.post(server.base + "/webhook/subscriptions", content=body, timeout=5)
    assert response.status_code == 400, response.text
    assert server.stats()["subscriptions"] == 0


@pytest.mark.parametrize("first", ["hello", json.dumps({"resume": "1"}), json.dumps({"resume": 42})])
async def test_a_websocket_without_a_valid_resume_is_closed_1008(first, feed_server):
    server = feed_server()
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as socket:
        await socket.send(first)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    reason = closed.value.rcvd.reason
    assert closed.value.rcvd.code == 1008 and ("resume" in reason or "ahead" in reason), reason
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as socket:  # the next one is fine
        await socket.send(json.dumps({"resume": 0}))
        server.publish(1)
        assert json.loads(await socket.recv())["seq"] == 1


def test_publish_rejects_a_bad_count(feed_server):
    server = feed_server()
    assert httpx.post(server.base + "/publish?count=0", timeout=5).status_code == 400
    assert httpx.post(server.base + "/publish?count=x", timeout=5).status_code == 400
    assert server.publish(2) == 2
