"""One real check per pattern, through the ports the stack publishes on 127.0.0.1.

Each check is what a user would do by hand against ``docker-compose up``: a chat across the
two chat servers through nginx, an SSE stream resumed with Last-Event-ID, a signed webhook
delivered across containers, pub/sub and Streams through the shared Redis, a queued job, an
MCP tool call, git clone and push, two WebRTC peers meeting, dig over UDP and TCP, a GraphQL
bid on one auction server seen by a subscriber on the other, a terminal session that outlives
its client, the blog served under /blog through the proxy, and a request through the tunnel's
relay to the app behind an agent that dialled out.
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
