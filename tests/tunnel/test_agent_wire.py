"""What the agent puts on the WebSocket, seen by a stand-in relay: message boundaries and the handshake.

The real agent (in this process) dials a websockets server written here, which
opens streams with the real ``mux.Connection`` and keeps every message the agent
sends; the app behind the agent is the real ``learn_tunnel.app``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from learn_tunnel.agent import Agent
from learn_tunnel.frames import Flags, FrameParser, FrameType, serialize
from learn_tunnel.mux import Connection
from learn_tunnel.session import MAX_MESSAGE
from tests.conftest import PYTHON, need_binary
from tests.tunnel.conftest import TOKEN
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


@pytest.fixture
def app(procs):
    proc = start_server([PYTHON, "-m", "learn_tunnel.app", "--port", "0", "-q"], name="app")
    procs.started.append(proc)
    return proc


def exchange(app_url: str, path: str) -> tuple[str | None, list[list[tuple[str, bool]]]]:
    """Ask the agent for ``path``: the extensions it offered, and per message [(frame type, END_STREAM)]."""
    seen: dict = {}

    async def relay(ws) -> None:
        seen["extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        conn, parser, messages = Connection(opener=True), FrameParser(), []
        conn.open_stream({"method": "GET", "path": path, "headers": [["host", "app"]]}, end_stream=True)
        await ws.send(b"".join(serialize(f) for f in conn.frames_to_send()))
        while not any(end for message in messages for _, end in message):
            frames = parser.feed(await asyncio.wait_for(ws.recv(), 10))
            messages.append([(f.type.name, bool(f.flags & Flags.END_STREAM)) for f in frames
                             if f.type in (FrameType.HEADERS, FrameType.DATA)])
        seen["messages"] = messages

    async def scenario() -> None:
        async with serve(relay, "127.0.0.1", 0, max_size=2 * MAX_MESSAGE) as server:
            port = server.sockets[0].getsockname()[1]
            agent = Agent(f"ws://127.0.0.1:{port}", "wire", TOKEN, app_url, Trace("agent", quiet=True),
                          reconnect=False)
            task = asyncio.create_task(agent.run_forever())
            try:
                for _ in range(200):  # bounded: 10 s
                    if "messages" in seen or task.done():
                        break
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await agent.client.aclose()

    asyncio.run(scenario())
    assert "messages" in seen, "the agent never answered the stream (is the app up?)"
    return seen["extensions"], seen["messages"]


def test_a_small_response_leaves_as_one_message_with_its_head(app):
    _, messages = exchange(app.url, "/headers")
    assert messages[0] == [("HEADERS", False), ("DATA", True)]  # one write, one wake-up of the relay


def test_a_streamed_response_sends_its_head_before_the_body_is_there(app):
    # /ticks has no Content-Length: the head must not wait for the body (a slow stream would hold it)
    _, messages = exchange(app.url, "/ticks?n=2&every=0.3")
    assert messages[0] == [("HEADERS", False)]
    assert messages[-1][-1] == ("DATA", True)


def test_the_agent_does_not_offer_compression(app):
    extensions, _ = exchange(app.url, "/headers")
    assert extensions is None  # no permessage-deflate: zlib would cap large bodies (README, Benchmark)


def test_the_relay_refuses_compression_when_a_client_offers_it(tunnel):
    async def scenario():
        async with connect(f"{tunnel.relay_ws}/connect?name=other", compression="deflate",
                           additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=10) as ws:
            return ws.request.headers.get("Sec-WebSocket-Extensions"), ws.response.headers.get(
                "Sec-WebSocket-Extensions")

    offered, accepted = asyncio.run(scenario())
    assert offered is not None and "permessage-deflate" in offered
    assert accepted is None


def test_the_app_sees_the_public_clients_headers_and_no_others(tunnel):
    need_binary("curl", "curl")
    out = subprocess.run(["curl", "-sS", f"{tunnel.public}/headers"], capture_output=True, text=True,
                         timeout=30).stdout
    # httpx's own defaults (Accept-Encoding: gzip, Connection, its User-Agent) must not be added
    assert sorted(json.loads(out)) == ["accept", "host", "user-agent", "x-forwarded-for", "x-forwarded-host",
                                       "x-forwarded-proto"]
