"""A rogue agent (a websockets client sending forged frames) against the real relay: each limit closes
that one connection with code 1008 and a reason, and the relay keeps serving."""

from __future__ import annotations

import asyncio
import struct
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from learn_tunnel.frames import Flags, Frame, FrameType, serialize
from tests.conftest import PYTHON
from tests.tunnel.conftest import TOKEN, Tunnel
from wirelab_common.processes import start_server

pytestmark = pytest.mark.loopback

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def relay_only(procs):
    app = start_server([PYTHON, "-m", "learn_tunnel.app", "--port", "0"], name="app")
    procs.started.append(app)
    tunnel = Tunnel(procs, app, app, None, 0, name="rogue")
    tunnel.start_relay("--flood-limit", "50", "--response-timeout", "5")
    return tunnel


async def close_reason(tunnel: Tunnel, wire: bytes, *, wait_for_request: bool = False) -> tuple[int, str]:
    async with connect(f"{tunnel.relay_ws}/connect?name=rogue", additional_headers=AUTH) as ws:
        if wait_for_request:
            await asyncio.wait_for(ws.recv(), 10)  # the relay opened stream 1 for a public request
        await ws.send(wire)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)  # the GOAWAY frame, then the close
        except ConnectionClosed:
            pass
        return ws.close_code, ws.close_reason


def still_serves(tunnel: Tunnel) -> None:
    tunnel.start_agent(name="rogue")
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"{tunnel.public}/headers"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert result.stdout == "200"


def test_an_oversized_frame_closes_the_agent_connection_with_a_reason(relay_only):
    header_only = struct.pack("!BHBBI", 0x01, 0x86A0, FrameType.DATA, 0, 1)  # claims 100,000 B
    code, reason = asyncio.run(close_reason(relay_only, header_only))
    assert code == 1008 and reason.startswith("FRAME_SIZE_ERROR: frame of 100000 B exceeds")
    still_serves(relay_only)


def test_a_frame_on_a_stream_never_opened_closes_the_connection(relay_only):
    forged = serialize(Frame(FrameType.DATA, Flags.NONE, 7, b"x"))
    code, reason = asyncio.run(close_reason(relay_only, forged))
    assert (code, reason) == (1008, "PROTOCOL_ERROR: DATA on stream 7, which was never opened")


def test_an_agent_that_opens_a_stream_is_closed(relay_only):
    forged = serialize(Frame(FrameType.HEADERS, Flags.NONE, 2, b"{}"))
    code, reason = asyncio.run(close_reason(relay_only, forged))
    assert code == 1008 and "the agent may not open streams" in reason


def test_a_flood_of_window_updates_closes_the_connection_and_the_request_gets_502(relay_only):
    public = subprocess.Popen(["curl", "-sS", "-w", "\n%{http_code}", f"{relay_only.public}/headers"],
                              stdout=subprocess.PIPE, text=True)
    update = serialize(Frame(FrameType.WINDOW_UPDATE, Flags.NONE, 1, struct.pack("!I", 1)))
    code, reason = asyncio.run(close_reason(relay_only, update * 60, wait_for_request=True))
    assert code == 1008 and reason.startswith("ENHANCE_YOUR_CALM: flood: 51 frames without data")
    out, _ = public.communicate(timeout=20)
    assert out.endswith("\n502")
    still_serves(relay_only)


def test_a_bad_token_and_a_bad_name_are_refused_at_the_handshake(relay_only):
    async def status(url: str, headers: dict[str, str]) -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(url, additional_headers=headers):
                pass
        return caught.value.response.status_code
    wrong = {"Authorization": "Bearer nope"}
    assert asyncio.run(status(f"{relay_only.relay_ws}/connect?name=ok", wrong)) == 401
    assert asyncio.run(status(f"{relay_only.relay_ws}/connect?name=Not_A_Label", AUTH)) == 400
