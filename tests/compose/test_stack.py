"""One real check per pattern, through the ports the stack publishes on 127.0.0.1.

Each check is what a user would do by hand against ``docker-compose up``: a chat across the
two chat servers through nginx, an SSE stream resumed with Last-Event-ID, a signed webhook
delivered across containers, pub/sub and Streams through the shared Redis, a queued job, an
MCP tool call, git clone and push, two WebRTC peers meeting, dig over UDP and TCP, a GraphQL
bid on one auction server seen by a subscriber on the other, a terminal session that outlives
its client, the blog served under /blog through the proxy, a request through the tunnel's
relay to the app behind an agent that dialled out, HLS playlists and a segment from the
streaming service (packaged by ffmpeg in its container, live encoder running), and HTTPS from
the acme site with the certificate our ACME CA issued it by HTTP-01 across containers, and
choose's feed on an SSE stream and a long poll, and its hybrid (a webhook into one fan-out
server seen on the other's SSE stream through the shared Redis).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import httpx
import pytest
import websockets

from learn_graphql.client import connect as graphql_connect
from learn_streaming.playlists import MasterPlaylist, MediaPlaylist, parse, resolve
from learn_websocket.chat.client import ChatClient
from tests.compose.conftest import compose, containers, logs, wait_healthy, wait_until
from tests.conftest import need_binary

pytestmark = [pytest.mark.differential, pytest.mark.timeout(120)]

HTTP = httpx.Client(timeout=10, trust_env=False)  # never through a proxy from the environment
CHAT = "ws://127.0.0.1:8080/ws"


async def chat_clients_on_both_servers(room: str) -> tuple[ChatClient, ChatClient]:
    """Connect through nginx (round robin) until one client sits on chat1 and one on chat2."""
    by_server: dict[str, ChatClient] = {}
    spare: list[ChatClient] = []
    for n in range(8):
        client = ChatClient(CHAT, ("alice-token", "bob-token")[n % 2], name=f"c{n}")
        await client.start()
        if client.server_id in by_server:
            spare.append(client)
        else:
            by_server[client.server_id] = client
        if len(by_server) == 2:
            break
    for client in spare:
        await client.close()
    assert set(by_server) == {"chat1", "chat2"}, f"nginx sent every client to {set(by_server)}"
    one, two = by_server["chat1"], by_server["chat2"]
    await one.join(room)
    await two.join(room)
    return one, two


def test_chat_message_crosses_from_chat1_to_chat2_through_nginx():
    async def scenario() -> None:
        one, two = await chat_clients_on_both_servers("compose-check")
        try:
            text = f"hello {uuid.uuid4().hex[:8]}"
            await one.say("compose-check", text)
            got = await two.wait_for(lambda m: m.get("type") == "message" and m.get("text") == text)
            assert got["server"] == "chat1"  # posted on chat1, delivered by chat2 via Redis
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def read_events(response: httpx.Response, wanted: int) -> list[dict[str, str]]:
    """The first ``wanted`` events (id, event, data) of an SSE response."""
    events, current = [], {}
    for line in response.iter_lines():
        if line == "":
            if "data" in current:
                events.append(current)
                if len(events) == wanted:
                    return events
            current = {}
        elif not line.startswith(":") and ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.removeprefix(" ")
    return events


def test_sse_streams_and_resumes_with_last_event_id():
    tag = uuid.uuid4().hex[:8]
    ids = [HTTP.post("http://127.0.0.1:8001/publish", json={"type": "note", "data": {"tag": tag, "n": n}})
           .raise_for_status().json()["id"] for n in range(3)]
    # Resume after the first note: the log replays everything after it, our two notes among them.
    headers = {"Last-Event-ID": ids[0], "Accept": "text/event-stream"}
    with HTTP.stream("GET", "http://127.0.0.1:8001/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        replayed = read_events(response, int(ids[2]) - int(ids[0]))
    assert int(replayed[0]["id"]) == int(ids[0]) + 1
    ours = [json.loads(e["data"])["n"] for e in replayed if e.get("event") == "note" and tag in e["data"]]
    assert ours == [1, 2] and replayed[-1]["id"] == ids[2]
    # Live: a note published while connected arrives on the open stream.
    with HTTP.stream("GET", "http://127.0.0.1:8001/events", headers={"Last-Event-ID": ids[2]}) as response:
        live = HTTP.post("http://127.0.0.1:8001/publish", json={"type": "note", "data": {"tag": tag}})
        live_id = live.json()["id"]
        events = read_events(response, int(live_id) - int(ids[2]))
    assert events[-1]["id"] == live_id and tag in events[-1]["data"]


def test_webhook_provider_delivers_a_signed_event_the_receiver_verifies():
    sub = HTTP.post("http://127.0.0.1:8002/subscriptions",
                    json={"url": "http://webhook-receiver:9000/webhook", "event_types": ["check.ping"]})
    assert sub.status_code == 201, sub.text
    # The receiver must know the subscription's secret: recreate it with that secret.
    compose("up", "-d", "--no-deps", "webhook-receiver", env={"WEBHOOK_SECRET": sub.json()["secret"]})
    wait_healthy("webhook-receiver")
    tag = uuid.uuid4().hex
    event = HTTP.post("http://127.0.0.1:8002/events", json={"type": "check.ping", "payload": {"tag": tag}})
    assert event.status_code == 202, event.text

    def delivered():
        received = HTTP.get("http://127.0.0.1:9000/received").json()
        return next((e for e in received["events"] if tag in json.dumps(e["body"])), None), received

    got, received = wait_until(lambda: delivered()[0] and delivered(), 30, "the verified delivery")
    assert got["scheme"] == "standard" and got["type"] == "check.ping"
    assert received["counts"]["rejected_signature"] == 0
    [delivery] = event.json()["deliveries"]
    state = HTTP.get(f"http://127.0.0.1:8002/deliveries/{delivery}").json()
    assert state["state"] == "DELIVERED", state


def test_pubsub_message_and_streams_entry_reach_their_consumers():
    topic = f"orders.check{uuid.uuid4().hex[:8]}"
    compose("exec", "-T", "pubsub-subscriber", "python", "-m", "learn_pubsub.publisher",
            "--redis-url", "redis://redis:6379/0", "--topic", topic)
    [subscriber] = containers("pubsub-subscriber")
    wait_until(lambda: f"< audit    {topic} " in logs(subscriber), 15, f"the subscriber to print {topic}")
    prefix = f"check-{uuid.uuid4().hex[:8]}"
    compose("exec", "-T", "pubsub-consumer", "python", "-m", "learn_pubsub.streams", "produce",
            "--redis-url", "redis://redis:6379/0", "--count", "3", "--id-prefix", prefix)
    [consumer] = containers("pubsub-consumer")
    wait_until(lambda: all(f"{prefix}-{n} " in logs(consumer) for n in (1, 2, 3)), 15,
               f"the Streams consumer to process {prefix}-1..3")


def test_queue_job_enqueued_through_the_web_api_is_completed_by_a_worker():
    workers = HTTP.get("http://127.0.0.1:8003/queues").json()["workers"]
    assert len(workers) >= 2, workers
    job = HTTP.post("http://127.0.0.1:8003/jobs", json={"class": "checksum", "args": ["hello compose"]})
    assert job.status_code == 201, job.text
    jid = job.json()["jid"]
    done = wait_until(lambda: (r := HTTP.get(f"http://127.0.0.1:8003/jobs/{jid}").json())["status"] == "done"
                      and r, 20, f"job {jid} done")
    assert done["result"]["sha256"] == __import__("hashlib").sha256(b"hello compose").hexdigest()


def test_mcp_tools_call_over_streamable_http():
    from mcp.client.streamable_http import streamable_http_client

    from mcp import ClientSession

    async def scenario() -> None:
        async with streamable_http_client("http://127.0.0.1:8000/mcp") as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("calculate", {"expression": "(2 + 3) * 4"})
            assert not result.is_error and result.structured_content == {"value": 20}

    asyncio.run(scenario())


def git(*args: str, cwd=None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                            env={"GIT_TERMINAL_PROMPT": "0", "HOME": str(cwd or "/tmp"),
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_git_clone_and_push_against_mini_git(tmp_path):
    need_binary("git", "git")
    url = "http://127.0.0.1:8004/demo.git"
    git("clone", "-q", url, str(tmp_path / "a"), cwd=tmp_path)
    work = tmp_path / "a"
    tag = uuid.uuid4().hex[:8]
    (work / f"{tag}.txt").write_text(f"pushed through compose {tag}\n")
    git("-c", "user.name=Alice", "-c", "user.email=alice@example.test", "add", ".", cwd=work)
    git("-c", "user.name=Alice", "-c", "user.email=alice@example.test", "commit", "-q", "-m", tag, cwd=work)
    git("push", "-q", "http://alice:secret@127.0.0.1:8004/demo.git", "HEAD:refs/heads/main", cwd=work)
    git("clone", "-q", url, str(tmp_path / "b"), cwd=tmp_path)
    assert (tmp_path / "b" / f"{tag}.txt").read_text() == f"pushed through compose {tag}\n"
    assert git("rev-parse", "HEAD", cwd=tmp_path / "b") == git("rev-parse", "HEAD", cwd=work)


def test_two_webrtc_peers_meet_through_the_signaling_service():
    async def scenario() -> None:
        room = f"check-{uuid.uuid4().hex[:8]}"
        async with websockets.connect("ws://127.0.0.1:8800/ws", proxy=None) as first, \
                websockets.connect("ws://127.0.0.1:8800/ws", proxy=None) as second:
            await first.send(json.dumps({"type": "join", "room": room}))
            joined = json.loads(await first.recv())
            assert joined["type"] == "joined" and joined["peers"] == []
            await second.send(json.dumps({"type": "join", "room": room}))
            assert json.loads(await second.recv())["peers"] == [joined["peer"]]
            peer_joined = json.loads(await first.recv())
            assert peer_joined["type"] == "peer-joined"
            # The peer already there offers (no glare); the text is relayed untouched.
            offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
            await first.send(json.dumps({"type": "offer", "sdp": offer}))
            relayed = json.loads(await asyncio.wait_for(second.recv(), 5))
            assert relayed == {"type": "offer", "sdp": offer, "from": joined["peer"]}
            await second.send(json.dumps({"type": "answer", "sdp": offer}))
            assert json.loads(await asyncio.wait_for(first.recv(), 5))["type"] == "answer"

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dig_gets_an_authoritative_answer(transport):
    dig = need_binary("dig", "dnsutils")
    args = [dig, "@127.0.0.1", "-p", "5300", "www.example.com", "A", "+norec", "+time=3", "+tries=1"]
    result = subprocess.run(args + (["+tcp"] if transport == "tcp" else []),
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "status: NOERROR" in result.stdout
    assert " aa" in result.stdout.split("flags:")[1].split(";")[0]
    assert "ANSWER: 1" in result.stdout or "ANSWER: 2" in result.stdout


SESSION_CHECK = """
from learn_unix_socket.client import SessionClient
path = "/tmp/sessions/default"
with SessionClient(path) as first:
    first.attach("compose", ["sh"])
    first.type("echo compose-$((40+2))\\n")
    first.read_until(b"compose-42")
with SessionClient(path) as second:  # the first client is gone; the session is not
    assert any(line.startswith("compose ") for line in second.list())
    second.attach("compose")
    second.read_until(b"compose-42")
    second.type("exit\\n")
    assert second.next_frame().type.name == "EXITED"
print("session outlived its client")
"""


def test_a_session_in_the_sessions_container_outlives_its_client():
    result = compose("exec", "-T", "sessions", "python", "-c", SESSION_CHECK)
    assert "session outlived its client" in result.stdout


def test_a_graphql_bid_on_graphql1_reaches_a_subscriber_on_graphql2():
    async def scenario() -> None:
        async with graphql_connect("ws://127.0.0.1:8011/graphql", {"token": "bob-token"}) as bob, \
                graphql_connect("ws://127.0.0.1:8010/graphql", {"token": "alice-token"}) as alice:
            stream = bob.subscribe('subscription { bids(lot: "clock") { amount bidder server } }')
            first = asyncio.ensure_future(anext(stream))

            async def subscribed() -> bool:
                stats = await bob.execute("{ stats { activeSubscriptions } }")
                return stats["stats"]["activeSubscriptions"] >= 1
            for _ in range(50):  # the subscription starts on graphql2 a moment after subscribe
                if await subscribed():
                    break
                await asyncio.sleep(0.1)
            # The lots live in the redis volume: bid above whatever an earlier run left.
            lot = await alice.execute('{ lot(id: "clock") { highestBid } }')
            amount = lot["lot"]["highestBid"] + 1
            await alice.execute(f'mutation {{ placeBid(lot: "clock", amount: {amount}) {{ seq }} }}')
            got = (await asyncio.wait_for(first, 10))["data"]["bids"]
            assert got == {"amount": amount, "bidder": "alice", "server": "graphql1"}
            await stream.aclose()

    asyncio.run(scenario())


def test_the_proxy_serves_the_blog_under_blog_with_its_urls_rewritten():
    redirect = HTTP.get("http://127.0.0.1:8020/blog/posts/hello-proxy")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/blog/posts/hello-proxy/"
    page = HTTP.get("http://127.0.0.1:8020/blog/posts/hello-proxy/")
    assert 'href="/blog/css/site.css"' in page.text and "Path=/blog" in page.headers["set-cookie"]
    assert HTTP.get("http://127.0.0.1:8020/blog/css/site.css").status_code == 200
    assert "Disallow: /blog/drafts/" in HTTP.get("http://127.0.0.1:8020/robots.txt").text
    assert HTTP.get("http://127.0.0.1:8020/headers").json()["headers"][0] == ["host", "proxy-main:8001"]


def test_a_request_to_the_tunnel_relay_reaches_the_app_behind_the_agent():
    by_host = httpx.get("http://127.0.0.1:8030/headers", headers={"Host": "demo.localhost:8030"}, timeout=10)
    assert by_host.status_code == 200
    assert by_host.json()["x-forwarded-host"] == "demo.localhost:8030"  # the app saw the public request
    by_path = httpx.get("http://127.0.0.1:8030/t/demo/static/style.css", timeout=10)
    assert by_path.status_code == 200 and "rgb(0, 128, 0)" in by_path.text
    unknown = httpx.get("http://127.0.0.1:8030/", headers={"Host": "nobody.localhost"}, timeout=10)
    assert unknown.status_code == 404


def test_the_streaming_service_serves_hls_playlists_and_segments():
    master_url = "http://127.0.0.1:8040/vod/master.m3u8"
    master = HTTP.get(master_url)
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    playlist = parse(master.text)
    assert isinstance(playlist, MasterPlaylist) and len(playlist.variants) == 3
    media_url = resolve(master_url, max(playlist.variants, key=lambda v: v.bandwidth).uri)
    media = parse(HTTP.get(media_url).text)
    assert isinstance(media, MediaPlaylist) and media.endlist and len(media.segments) == 16
    segment = HTTP.get(resolve(media_url, media.segments[0].uri))
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.content[0] == 0x47 and len(segment.content) > 10_000  # MPEG-TS, a real picture's worth

    def live_playlist() -> MediaPlaylist | None:
        answer = HTTP.get("http://127.0.0.1:8040/live/v0/index.m3u8")
        return parse(answer.text) if answer.status_code == 200 else None  # type: ignore[return-value]

    live = wait_until(live_playlist, 30, "the live encoder's first media playlist")
    assert live.segments and not live.endlist  # live: a sliding window, no EXT-X-ENDLIST


def test_the_acme_site_serves_https_with_the_chain_our_ca_issued_it(tmp_path):
    """acme-web ordered its certificate from acme-ca at start (the CA fetched the HTTP-01 token
    from acme-web:5002); a client trusting only that CA's root accepts it for www.wirelab.test."""
    import socket
    import ssl

    from cryptography import x509

    root = HTTP.get("http://127.0.0.1:14000/root.pem")
    assert root.status_code == 200
    (tmp_path / "root.pem").write_bytes(root.content)
    context = ssl.create_default_context(cafile=str(tmp_path / "root.pem"))  # our root alone
    with socket.create_connection(("127.0.0.1", 8443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="www.wirelab.test") as tls:
            leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            tls.sendall(b"GET / HTTP/1.1\r\nHost: www.wirelab.test\r\nConnection: close\r\n\r\n")
            page = b""
            while chunk := tls.recv(4096):
                page += chunk
    assert b"200 OK" in page.split(b"\r\n", 1)[0] and b"wirelab ACME CA" in page
    assert "wirelab ACME" in leaf.issuer.rfc4514_string()
    ca_log = logs(containers("acme-ca")[0])
    assert "(http-01): pending -> valid" in ca_log  # the CA validated across the network
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's roots do not know our CA
        with socket.create_connection(("127.0.0.1", 8443), timeout=10) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="www.wirelab.test")


def test_the_choose_feed_reaches_an_sse_stream_and_a_long_poll():
    """Three prices published on the choose service arrive on an open SSE stream, and a long poll
    from the cursor before them returns them too (two of the six doors of the one feed)."""
    before = HTTP.get("http://127.0.0.1:8280/stats").raise_for_status().json()["last"]
    with HTTP.stream("GET", f"http://127.0.0.1:8280/sse?since={before}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        HTTP.post("http://127.0.0.1:8280/publish?count=3").raise_for_status()
        events = read_events(response, 3)
    assert [int(e["id"]) for e in events] == [before + 1, before + 2, before + 3]
    polled = HTTP.get(f"http://127.0.0.1:8280/longpoll?since={before}").raise_for_status().json()
    assert [e["seq"] for e in polled][:3] == [before + 1, before + 2, before + 3], polled


def test_a_webhook_into_hybrid1_reaches_an_sse_subscriber_on_hybrid2():
    """The hybrid across containers: a signed delivery to hybrid1 goes into the shared Redis
    stream and out of hybrid2's SSE stream; the same delivery again is a duplicate."""
    import time

    from learn_choose.hybrid import signature

    tag = uuid.uuid4().hex[:8]
    body = json.dumps({"type": "news", "data": {"headline": f"compose {tag}"}}).encode()
    msg_id = f"evt_{tag}"
    with HTTP.stream("GET", "http://127.0.0.1:8301/events") as response:
        assert response.status_code == 200
        sent = signature.headers(signature.DEMO_SECRET, msg_id, int(time.time()), body)
        first = HTTP.post("http://127.0.0.1:8300/webhook", content=body,
                          headers={**sent, "content-type": "application/json"})
        assert first.status_code == 200, first.text
        events = read_events(response, 1)
    assert tag in events[0]["data"] and events[0]["id"] == first.json()["id"]
    again = HTTP.post("http://127.0.0.1:8300/webhook", content=body,
                      headers={**sent, "content-type": "application/json"})
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
