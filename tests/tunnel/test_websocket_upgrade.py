"""A real websockets client through the tunnel to the app's WebSocket endpoint (a FastAPI echo)."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.differential


def test_messages_and_the_subprotocol_and_the_close_code_pass_through_the_tunnel(tunnel):
    async def scenario() -> tuple:
        async with connect(f"ws://127.0.0.1:{tunnel.relay.port}/t/demo/ws", subprotocols=["chat.v1"]) as ws:
            await ws.send("hello")
            text = await asyncio.wait_for(ws.recv(), 10)
            await ws.send(bytes(range(256)) * 40)  # 10 KiB binary: one DATA frame
            binary = await asyncio.wait_for(ws.recv(), 10)
            await ws.send("bye")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.subprotocol, text, binary, ws.close_code, ws.close_reason
    subprotocol, text, binary, code, reason = asyncio.run(scenario())
    assert (subprotocol, text, binary) == ("chat.v1", "echo: hello", bytes(range(256)) * 40)
    assert (code, reason) == (4000, "bye from the app")  # the app's close code came through
    tunnel.agent.wait_line(r"GET /ws -> 101 WebSocket \(subprotocol chat\.v1\)", timeout=5)


def test_many_messages_each_way_arrive_in_order(tunnel):
    async def scenario() -> list[str]:
        async with connect(f"ws://127.0.0.1:{tunnel.relay.port}/t/demo/ws") as ws:
            for n in range(200):
                await ws.send(f"m{n}")
            return [await asyncio.wait_for(ws.recv(), 10) for _ in range(200)]
    assert asyncio.run(scenario()) == [f"echo: m{n}" for n in range(200)]


def test_a_websocket_to_an_unknown_tunnel_is_refused_with_403(tunnel):
    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"ws://127.0.0.1:{tunnel.relay.port}/t/nobody/ws"):
                pass
        return caught.value.response.status_code
    assert asyncio.run(scenario()) == 403


def test_a_path_the_app_has_no_websocket_for_is_refused_too(tunnel):
    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"ws://127.0.0.1:{tunnel.relay.port}/t/demo/nope"):
                pass
        return caught.value.response.status_code
    assert asyncio.run(scenario()) == 403
