"""The hybrid end to end: a private redis-server, two fan-out server processes, real peers.

    webhook (httpx, signed here) --> s1 --+                   +--> s1 --> curl -N, Chromium EventSource
    WebSocket client --------------> s2 --+--> Redis stream --+--> s2 --> SSE subscriber

Every event must reach every subscriber on both servers, in the stream's order,
once; bad deliveries are refused and the servers keep serving; a killed server's
subscribers resume, elsewhere or on its successor, with Last-Event-ID.
"""

from __future__ import annotations

import io
import json
import sys
import time

import httpx
import pytest
import redis

from learn_choose.hybrid import signature
from learn_choose.hybrid.clients import SseSubscriber, WsSender
from learn_choose.hybrid.upstream import event_body
from tests.conftest import need_binary
from wirelab_common.nginx_proxy import render_nginx_config
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

PY = sys.executable
WAIT_MS = 15_000


def quiet(name: str) -> Trace:
    return Trace(name, stream=io.StringIO())


@pytest.fixture
def hybrid(procs, private_redis):
    """``hybrid("s1", *args, port=0)`` starts a fan-out server on the test's private Redis."""
    _, redis_url = private_redis

    def start(name: str, *args: str, port: int = 0) -> ManagedProcess:
        proc = start_server([PY, "-m", "learn_choose.hybrid.server", "--port", str(port), "--redis-url",
                             redis_url, "--server-id", name, "--retry-ms", "300", *args], name=name)
        procs.started.append(proc)
        return proc

    return start


def deliver(server: ManagedProcess, n: int, *, msg_id: str | None = None, secret: str = signature.DEMO_SECRET,
            age: int = 0) -> httpx.Response:
    """POST event ``n`` as the provider would (``age`` seconds old), signed with ``secret``."""
    body = event_body(n)
    headers = signature.headers(secret, msg_id or f"evt_{n}", int(time.time()) - age, body)
    return httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=5)


def sources(sub: SseSubscriber) -> list[str]:
    return [json.loads(event.data)["source"] for event in sub.feed]


async def test_webhooks_and_websocket_messages_reach_subscribers_on_both_servers(hybrid, procs):
    curl = need_binary("curl", "curl")
    s1, s2 = hybrid("s1"), hybrid("s2")
    lines = s1.line_count()
    reader = procs.start([curl, "-sS", "-N", "--max-time", "40", f"{s1.url}/events"], name="curl")
    s1.wait_line(r"SSE subscriber .* live from", 10, start=lines)
    sub = await SseSubscriber("py", [s2.url], quiet("py")).start()
    sender = await WsSender("ann", s2.url, quiet("ann")).start()
    try:
        assert deliver(s1, 1).json()["duplicate"] is False
        assert deliver(s2, 2).status_code == 200
        ack = await sender.send("chat", {"text": "hello both servers"})
        assert ack["duplicate"] is False
        assert deliver(s1, 3).status_code == 200
        await sub.wait_count(4, 15)
        assert sources(sub) == ["webhook:evt_1", "webhook:evt_2", "ws:ann/1", "webhook:evt_3"]
        ids = [event.id for event in sub.feed]
        assert ack["event_id"] == ids[2]
        # curl on the other server printed the same events under the same ids, in the same order.
        reader.wait_line(f"^id: {ids[-1]}$", 10)
        curl_ids = [line[4:] for line in reader.output().splitlines() if line.startswith("id: ")]
        assert curl_ids == ids
        assert "event: chat" in reader.output() and '"text":"hello both servers"' in reader.output()
        # The WebSocket client also gets the feed on its own socket.
        await eventually_async(lambda: len(sender.events) == 4, 10, "the sender's feed")
        assert [m["id"] for m in sender.events] == ids
    finally:
        await sender.close()
        await sub.close()


async def test_bad_signature_stale_timestamp_and_duplicate_id_are_refused_across_servers(hybrid):
    s1, s2 = hybrid("s1"), hybrid("s2")
    sub = await SseSubscriber("py", [s2.url], quiet("py")).start()
    try:
        forged = deliver(s1, 1, secret="guessed")
        assert forged.status_code == 401 and forged.json() == {"error": "signature mismatch"}
        stale = deliver(s1, 1, age=301)
        assert stale.status_code == 401 and "too old" in stale.json()["error"]
        tampered = httpx.post(f"{s1.url}/webhook", content=event_body(1) + b" ", timeout=5,
                              headers=signature.headers(signature.DEMO_SECRET, "evt_1", int(time.time()),
                                                        event_body(1)))
        assert tampered.status_code == 401
        first = deliver(s1, 1)
        assert first.status_code == 200 and first.json()["duplicate"] is False
        # The provider retries on the *other* server: the dedup key is in Redis, shared by both.
        again = deliver(s2, 1)
        assert again.status_code == 200 and again.json() == {"id": first.json()["id"], "duplicate": True}
        assert deliver(s2, 2).status_code == 200  # a sentinel: a fanned-out duplicate would come first
        await sub.wait_count(2, 15)
        assert sources(sub) == ["webhook:evt_1", "webhook:evt_2"]
        bad_ws = await WsSender("bad", s1.url, quiet("bad")).start()
        try:
            await bad_ws._ws.send("not json")  # type: ignore[union-attr]
            ack = await bad_ws.send("order", {"qty": 1})  # the socket still works after the error
            assert ack["duplicate"] is False
        finally:
            await bad_ws.close()
        for server in (s1, s2):
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        assert "REFUSED 401: signature mismatch" in s1.output()
    finally:
        await sub.close()


async def test_a_killed_servers_subscriber_resumes_on_the_other_without_loss_or_duplicates(hybrid):
    s1, s2 = hybrid("s1"), hybrid("s2")
    sub = await SseSubscriber("py", [s1.url, s2.url], quiet("py")).start()
    try:
        for n in (1, 2):
            assert deliver(s1, n).status_code == 200
        await sub.wait_count(2, 15)
        s1.kill()  # SIGKILL: no goodbye, the TCP connection just breaks
        for n in (3, 4, 5):  # while the subscriber is between servers
            assert deliver(s2, n).status_code == 200
        await sub.wait_count(5, 15)
        assert sources(sub) == [f"webhook:evt_{n}" for n in range(1, 6)]
        assert sub.connects == [s1.url, s2.url]
        assert f"resumes after {sub.feed[1].id}" in s2.output()  # it sent Last-Event-ID
    finally:
        await sub.close()


def test_a_resume_from_a_trimmed_id_gets_reset_then_what_the_stream_still_holds(hybrid):
    # MAXLEN 3: Redis keeps events 4..6.  The events go in at s0; s1 starts afterwards, so it
    # holds none of them in its window and must ask Redis (a server that was up might still
    # hold trimmed events in its window, and would send them).
    s0 = hybrid("s0", "--maxlen", "3")
    ids = [deliver(s0, n).json()["id"] for n in range(1, 7)]
    s1 = hybrid("s1", "--maxlen", "3")
    with httpx.stream("GET", f"{s1.url}/events", headers={"Last-Event-ID": ids[0]}, timeout=10) as response:
        got: list[str] = []
        for line in response.iter_lines():
            if line.startswith(("id: ", "event: ", "data: ")):
                got.append(line)
            if line == f"id: {ids[5]}":
                break
    assert got[:3] == [f"id: {ids[2]}", "event: reset",
                       'data: {"reason": "events trimmed from the stream", '
                       f'"requested": "{ids[0]}", "lost_through": "{ids[2]}"}}']
    assert [line for line in got[3:] if line.startswith("id: ")] == [f"id: {i}" for i in ids[3:]]


def test_a_bad_last_event_id_gets_400_and_the_server_keeps_serving(hybrid):
    server = hybrid("s1")
    response = httpx.get(f"{server.url}/events", headers={"Last-Event-ID": "42"}, timeout=5)
    assert response.status_code == 400 and "stream id" in response.json()["error"]
    assert deliver(server, 1).status_code == 200


@pytest.mark.differential
@pytest.mark.timeout(90)
def test_chromium_eventsource_resumes_with_last_event_id_on_a_restarted_server(hybrid, chromium_page):
    s1, s2 = hybrid("s1"), hybrid("s2")
    page = chromium_page
    page.goto(f"{s1.url}/")
    page.wait_for_function("document.querySelector('#status').textContent === 'open'", timeout=WAIT_MS)
    ids = [deliver(s2, n).json()["id"] for n in (1, 2)]  # in at s2, out at s1 to the browser
    page.wait_for_function(f"document.querySelector('#last-id').textContent === '{ids[1]}'", timeout=WAIT_MS)

    port = int(s1.url.rsplit(":", 1)[1])
    s1.kill()
    page.wait_for_function("document.querySelector('#status').textContent === 'connecting'", timeout=WAIT_MS)
    ids += [deliver(s2, n).json()["id"] for n in (3, 4)]  # the browser misses these for now
    back = hybrid("s1", port=port)  # a new process: it never held 3 and 4, Redis did
    page.wait_for_function(f"document.querySelector('#last-id').textContent === '{ids[3]}'", timeout=WAIT_MS)
    rows = page.eval_on_selector_all("#log li", "rows => rows.map(r => r.dataset.id)")
    assert rows == ids
    assert f"resumes after {ids[1]}" in back.output()  # Chromium sent Last-Event-ID by itself


async def test_a_server_cut_off_from_redis_reads_on_from_where_it_stopped(hybrid, private_redis):
    """Why a stream and not pub/sub: events added while a server's reader is disconnected still
    reach its subscribers, because XREAD resumes from the last id it read.  (A PUBLISH sent while
    a subscriber is disconnected is gone for it.)"""
    _, redis_url = private_redis
    s1, s2 = hybrid("s1"), hybrid("s2")
    sub = await SseSubscriber("py", [s1.url], quiet("py")).start()
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert deliver(s2, 1).status_code == 200
        await sub.wait_count(1, 15)
        lines = s1.line_count()
        # Cut every client connection but ours: both servers' XREAD and pools break at once.
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 2
        s1.wait_line(r"redis XREAD failed", 10, start=lines)
        for n in (2, 3):  # added while s1's reader is waiting to reconnect
            assert deliver(s2, n).status_code == 200
        await sub.wait_count(3, 15)
        assert sources(sub) == ["webhook:evt_1", "webhook:evt_2", "webhook:evt_3"]
        assert sub.connects == [s1.url]  # the browser never noticed
    finally:
        admin.close()
        await sub.close()


async def test_a_websocket_message_sent_again_after_a_lost_ack_is_fanned_out_once(hybrid):
    """What a client does when its server dies before the ack: send the message again, same id,
    to another server.  Here the first attempt did get in; the second is answered as a duplicate."""
    s1, s2 = hybrid("s1"), hybrid("s2")
    sub = await SseSubscriber("py", [s2.url], quiet("py")).start()
    first = await WsSender("ann", s1.url, quiet("ann")).start()
    again = await WsSender("ann", s2.url, quiet("ann")).start()  # same client name, other server
    try:
        ack = await first.send("order", {"qty": 5})
        repeat = await again.send("order", {"qty": 5})  # its first message: id "1" as well
        assert repeat == {**ack, "duplicate": True}
        assert deliver(s1, 1).status_code == 200  # a sentinel after the repeat
        await sub.wait_count(2, 15)
        assert sources(sub) == ["ws:ann/1", "webhook:evt_1"]
    finally:
        await first.close()
        await again.close()
        await sub.close()


async def test_sigterm_ends_streams_cleanly_closes_websockets_with_1001_and_exits_0(hybrid):
    s1, s2 = hybrid("s1"), hybrid("s2")
    sub = await SseSubscriber("py", [s1.url, s2.url], quiet("py")).start()
    sender = await WsSender("ann", s1.url, quiet("ann")).start()
    try:
        assert deliver(s1, 1).status_code == 200
        await sub.wait_count(1, 15)
        assert s1.stop() == 0
        assert "server shutting down" in s1.output()
        ws = sender._ws
        assert ws is not None
        await eventually_async(lambda: ws.close_code == 1001, 10, "the WebSocket closed with 1001")
        assert deliver(s2, 2).status_code == 200
        await sub.wait_count(2, 15)
        assert sources(sub) == ["webhook:evt_1", "webhook:evt_2"] and sub.connects == [s1.url, s2.url]
    finally:
        await sender.close()
        await sub.close()


NGINX_TEMPLATE = """
worker_processes 1;
{{user_directive}}
pid {{prefix}}/nginx.pid;
error_log {{prefix}}/error.log notice;
events { worker_connections 256; }
http {
    access_log {{prefix}}/access.log;
    client_body_temp_path {{prefix}}/tmp/client_body;
    proxy_temp_path {{prefix}}/tmp/proxy;
    fastcgi_temp_path {{prefix}}/tmp/fastcgi;
    uwsgi_temp_path {{prefix}}/tmp/uwsgi;
    scgi_temp_path {{prefix}}/tmp/scgi;
    # Round robin, no stickiness: any fan-out server can resume any client.
    upstream fanout { server 127.0.0.1:{{p1}}; server 127.0.0.1:{{p2}}; }
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:{{port}};
        location / {
            # proxy_buffering stays on (nginx's default): the servers' X-Accel-Buffering: no
            # turns it off for each SSE response.
            proxy_pass http://fanout;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }
    }
}
"""


@pytest.mark.differential
@pytest.mark.timeout(90)
async def test_behind_nginx_without_sticky_sessions_a_subscriber_resumes_on_whichever_server_answers(
        hybrid, procs, nginx_path, tmp_path):
    s1, s2 = hybrid("s1"), hybrid("s2")
    template = tmp_path / "hybrid.conf.template"
    template.write_text(NGINX_TEMPLATE)
    setup = render_nginx_config(template, nginx=nginx_path, p1=str(s1.port), p2=str(s2.port))
    proxy = procs.start(setup.argv, name="nginx", ready_port=setup.port)
    sub = await SseSubscriber("py", [setup.url("").rstrip("/")], quiet("py")).start()
    sender = await WsSender("ann", setup.url("").rstrip("/"), quiet("ann")).start()  # Upgrade via nginx
    try:
        await eventually_async(lambda: "SSE subscriber py@" in s1.output() + s2.output(), 10,
                               "a server's line for the subscriber nginx sent it")
        holder, other = (s1, s2) if "SSE subscriber py@" in s1.output() else (s2, s1)
        assert deliver(other, 1).status_code == 200
        assert (await sender.send("chat", {"text": "through nginx"}))["duplicate"] is False
        await sub.wait_count(2, 15)
        holder.kill()
        assert deliver(other, 2).status_code == 200  # while the subscriber is away
        await sub.wait_count(3, 15)
        assert sources(sub) == ["webhook:evt_1", "ws:ann/1", "webhook:evt_2"]
        assert len(sub.connects) == 2  # the same URL twice: nginx sent the reconnect to the survivor
        assert f"resumes after {sub.feed[1].id}" in other.output()
    finally:
        await sender.close()
        await sub.close()
        proxy.stop()
        setup.remove()
