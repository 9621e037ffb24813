"""Scale-out: Redis + two chat servers + nginx in front, all real processes on free ports.

    ChatClient A --+                      +--> chat s1 --+
                   +--> nginx (1 worker) -+              +--> private redis-server
    ChatClient B --+      round robin     +--> chat s2 --+

A and B land on different servers (nginx alternates), join one room, and each
sees the other's message: the only path between s1 and s2 is Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request

import pytest

from learn_websocket.chat.client import ChatClient
from wirelab_common.ports import free_port
from wirelab_common.redis_server import start_redis
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


async def test_clients_on_different_servers_share_a_room_through_redis(private_redis, chat_server,
                                                                       nginx_proxy):
    _, redis_url = private_redis
    s1 = chat_server("--redis-url", redis_url, server_id="s1")
    s2 = chat_server("--redis-url", redis_url, server_id="s2")
    setup, _ = nginx_proxy([("127.0.0.1", s1.port), ("127.0.0.1", s2.port)])

    # nginx proxies the page and the health check too, not only the WebSocket.
    with urllib.request.urlopen(setup.url("/"), timeout=5) as response:
        assert b"wirelab chat" in response.read()
    with urllib.request.urlopen(setup.url("/healthz"), timeout=5) as response:
        assert json.load(response)["broker"] == "redis"

    a = ChatClient(setup.ws_url(), "alice-token", name="alice", trace=quiet("alice"))
    await a.start()
    clients = [a]
    try:
        # Round robin with one worker alternates; a few tries guard against a stray
        # request (the health checks above) having shifted the rotation.
        for _ in range(4):
            b = ChatClient(setup.ws_url(), "bob-token", name="bob", trace=quiet("bob"))
            await b.start()
            clients.append(b)
            if b.server_id != a.server_id:
                break
        assert {a.server_id, b.server_id} == {"s1", "s2"}

        await a.join("lobby")
        await b.join("lobby")
        await a.wait_for(lambda m: m["type"] == "joined" and m["user"] == "bob")  # crossed servers
        await a.say("lobby", "hello from alice")
        got = await b.wait_for(lambda m: m["type"] == "message" and m["text"] == "hello from alice")
        assert got["from"] == "alice" and got["server"] == a.server_id != b.server_id
        await b.say("lobby", "hello from bob")
        got = await a.wait_for(lambda m: m["type"] == "message" and m["text"] == "hello from bob")
        assert got["from"] == "bob" and got["server"] == b.server_id
    finally:
        for client in clients:
            await client.close()
    assert "redis PUBLISH chat:room:lobby message" in s1.proc.output() + s2.proc.output()

    # Last, because of what it may do to the rotation: a body larger than nginx's
    # memory buffer goes to a temp file, written by the worker (user nobody when we
    # are root).  nginx's log says it buffered the body, with no "Permission denied",
    # and the app's 405 shows the request went through.  The app answers 405 without
    # reading the body and closes; the kernel then resets the connection, and the
    # reset can reach nginx before it reads the answer: a 502, after which nginx rests
    # that upstream for fail_timeout.  That race is uvicorn's and the kernel's, not the
    # temp file's, so a 502 is retried (nginx then picks the other server).
    for _ in range(5):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(urllib.request.Request(setup.url("/healthz"), data=b"x" * 100_000),
                                   timeout=5)
        if info.value.code != 502:
            break
    assert info.value.code == 405
    error_log = (setup.prefix / "error.log").read_text()
    assert "client request body is buffered to a temporary file" in error_log
    assert "Permission denied" not in error_log


async def test_both_servers_see_a_room_in_the_same_order(private_redis, chat_server):
    """Delivery only from the subscription: members on s1 and s2 see one order."""
    _, redis_url = private_redis
    servers = [chat_server("--redis-url", redis_url, server_id=sid) for sid in ("s1", "s2")]
    clients = []
    try:
        for server, (token, name) in zip(servers, [("alice-token", "alice"), ("bob-token", "bob")],
                                         strict=True):
            client = ChatClient(server.ws_url, token, name=name, trace=quiet(name))
            await client.start()
            await client.join("race")
            clients.append(client)
        alice, bob = clients
        await alice.wait_for(lambda m: m["type"] == "joined" and m["user"] == "bob")
        count = 50
        for i in range(count):  # both post at once, interleaved
            await alice.say("race", f"a{i}")
            await bob.say("race", f"b{i}")
        seen = []
        for client in clients:
            texts = [(await client.wait_for(lambda m: m["type"] == "message"))["text"]
                     for _ in range(2 * count)]
            seen.append(texts)
        assert seen[0] == seen[1]
        assert sorted(seen[0]) == sorted([f"a{i}" for i in range(count)] + [f"b{i}" for i in range(count)])
    finally:
        for client in clients:
            await client.close()


async def test_server_resubscribes_after_a_redis_restart(chat_server, procs):
    """Redis goes away and comes back on the same port: the room works again, by itself."""
    port = free_port()
    redis, url = start_redis(port)
    procs.started.append(redis)  # stopped with the rest at the end of the test
    server = chat_server("--redis-url", url)
    alice = ChatClient(server.ws_url, "alice-token", name="alice", trace=quiet("alice"))
    await alice.start()
    try:
        await alice.join("lobby")
        redis.kill()
        await alice.say("lobby", "into the void")
        error = await alice.wait_for(lambda m: m["type"] in ("error", "message"), timeout=10)
        assert error["code"] == "unavailable"  # said so, instead of losing it silently

        redis, _ = await asyncio.to_thread(start_redis, port)
        procs.started.append(redis)
        await asyncio.to_thread(server.proc.wait_line, r"redis subscribed to chat:room:\*", 10, 1)
        await alice.say("lobby", "back again")
        got = await alice.wait_for(lambda m: m["type"] == "message", timeout=5)
        assert got["text"] == "back again"
        assert alice.connects == 1  # the WebSocket never noticed
    finally:
        await alice.close()
