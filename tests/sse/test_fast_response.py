"""The fast response (fast_response.py) beside sse-starlette's own: the same bytes on the wire.

Two servers, one with ``--plain-response``, get the same publications (well-formed,
odd, and malformed ones, which both must refuse alike); a finite stream from each
must be byte for byte the same.  Both also send heartbeats on an idle stream and
stop a stream's generator as soon as its client goes away.
"""

from __future__ import annotations

import asyncio
import random
import socket

import httpx
import pytest

from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential


def publications(seed: int, count: int) -> list[object]:
    rng = random.Random(seed)
    alphabet = "ab \n\r\t:\u00e9\u2028\U0001f600\0\"\\{}"
    items: list[object] = []
    for n in range(count):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        items.append(rng.choice([
            {"type": "note", "data": {"n": n, "text": text}},
            {"type": "price", "data": [n, text, None, 1.5]},
            {"type": "x." + str(n), "data": text},
            {"type": "reset", "data": n},  # reserved: refused
            {"type": "bad type", "data": n},  # not a token: refused
            {"type": "note"},  # no data: refused
            text,  # not an object: refused
        ]))
    return items


def test_plain_and_lean_responses_send_the_same_bytes(sse_server, tmp_path):
    plain = sse_server("--plain-response", "--retry-ms", "700", data_dir=tmp_path / "plain")
    lean = sse_server("--retry-ms", "700", data_dir=tmp_path / "lean")
    accepted = 0
    for item in publications(7, 60):
        answers = [httpx.post(server.url("/publish"), json=item, timeout=5) for server in (plain, lean)]
        assert answers[0].status_code == answers[1].status_code, (item, answers)
        assert answers[0].json() == answers[1].json()
        accepted += answers[0].status_code == 201
    assert accepted > 20
    streams = [httpx.get(server.url(f"/events?lastEventId=0&limit={accepted}"), timeout=10)
               for server in (plain, lean)]
    assert streams[0].headers["content-type"] == streams[1].headers["content-type"]
    assert streams[0].content == streams[1].content
    assert streams[0].content.startswith(b"retry: 700\n\n")
    assert streams[0].content.count(b"\nid: ") == accepted


@pytest.mark.parametrize("kind", [("--plain-response",), ()], ids=["plain", "lean"])
async def test_both_responses_send_heartbeats_and_stop_the_generator_when_the_client_goes(sse_server, kind):
    """What the library's task group does, the lean response does too: heartbeats on an idle
    stream, and a client that goes away ends its generator (its ``finally`` runs) at once."""
    server = sse_server("--heartbeat", "0.3", *kind)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    server.publish("note", {"hello": 1})
    received = b""
    async with asyncio.timeout(5):
        while received.count(b": heartbeat") < 2:  # two: the heartbeat repeats
            received += await asyncio.to_thread(sock.recv, 4096)
    assert b"id: 1\n" in received
    sock.close()
    stats = await eventually_async(
        lambda: (s := server.stats())["generators_stopped"] == 1 and s["subscribers_active"] == 0 and s,
        5, "the generator of the client that left stopped")
    assert stats["subscribers_total"] == 1
    server.proc.wait_line(r"subscriber 127\.0\.0\.1:\d+ gone after 1 events \(client disconnected\)", 2)
