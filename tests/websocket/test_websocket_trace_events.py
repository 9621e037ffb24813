"""The websocket demo's structured trace events name both ends of every message.

Every ``sent`` and ``received`` event carries ``peer``: the other end, named as
that end names itself in its own events (or ``redis``, which writes none), so
the viewer draws each arrow between the right lifelines without guessing.  The
echo's frames, and a chat client's frames to its server, carry the
connection's Sec-WebSocket-Key as ``cid`` on both ends; a chat message carries
its id from the server it was said on, through Redis, to every client that
hears it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.conftest import need_binary
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback

UNTRACED = {"redis"}  # peers that write no events of their own


def record(tmp_path, *args: str) -> list[dict]:
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_websocket.demo", *args], cwd=tmp_path,
                          env={**os.environ, ENV: str(events_file)}, capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return read_events(str(events_file))


def messages(events: list[dict]) -> list[dict]:
    return [e for e in events if e["direction"] in ("sent", "received")]


def assert_every_message_names_a_known_peer(events: list[dict]) -> None:
    actors = {e["actor"] for e in events}
    nameless = [(e["actor"], e["summary"]) for e in messages(events) if e["peer"] not in actors | UNTRACED]
    assert not nameless, f"messages whose peer is not an actor of the run: {nameless[:5]}"


@pytest.mark.timeout(60)
def test_the_echo_frames_name_both_ends_and_the_connection(tmp_path):
    events = record(tmp_path, "--act", "1")
    assert_every_message_names_a_known_peer(events)
    frames = [e for e in messages(events) if e["actor"] in ("client", "server")]
    assert {(e["actor"], e["peer"]) for e in frames} == {("client", "server"), ("server", "client")}
    # One connection, one key: the client's own, read by the server from its request.
    [key] = {e["cid"] for e in frames}
    get = next(e for e in frames if e["actor"] == "client" and e["summary"].startswith("GET "))
    assert f"Sec-WebSocket-Key: {key}" in get["detail"]
    # Each end sent exactly what the other received (by summary), connection by connection.
    sent = Counter((e["actor"], e["peer"], e["cid"], e["summary"].split("  ")[0])
                   for e in frames if e["direction"] == "sent")
    received = Counter((e["peer"], e["actor"], e["cid"], e["summary"].split("  ")[0])
                       for e in frames if e["direction"] == "received")
    assert sent == received
    assert len(sent) >= 10  # handshake, text, fragments, binary, ping/pong, close


@pytest.mark.timeout(100)
def test_chat_messages_carry_their_id_through_redis_to_every_client(tmp_path):
    need_binary("nginx", "nginx-light")
    need_binary("redis-server", "redis-server")
    events = record(tmp_path, "--act", "2")
    assert_every_message_names_a_known_peer(events)
    chat = messages(events)
    clients = {"alice", "bob"}
    # A client's frames go to and come from the server it landed on, which names it back.
    landed = {e["actor"]: e["peer"] for e in chat if e["actor"] in clients}
    assert set(landed.values()) == {"s1", "s2"}
    for e in chat:
        if e["actor"] in {"s1", "s2"} and e["peer"] in clients:
            assert landed[e["peer"]] == e["actor"], e
    # Each frame a client sent, its server received: the same connection key on both ends
    # (the client's Sec-WebSocket-Key, which nginx passes through).
    sent = Counter((e["actor"], e["peer"], e["cid"]) for e in chat if e["actor"] in clients
                   and e["direction"] == "sent")
    got = Counter((e["peer"], e["actor"], e["cid"]) for e in chat if e["peer"] in clients
                  and e["direction"] == "received")
    assert sent == got and all(key for _, _, key in sent), (sent, got)
    # The servers talk to Redis only; each message id published there reaches both servers.
    published = {e["cid"]: e["actor"] for e in chat if e["direction"] == "sent" and e["peer"] == "redis"
                 and e["cid"]}
    assert len(published) == 2, published  # alice's 'hi bob' and bob's answer
    for cid in published:
        heard = {e["actor"] for e in chat if e["direction"] == "received" and e["cid"] == cid}
        assert heard == {"s1", "s2", "alice", "bob"}, (cid, heard)
