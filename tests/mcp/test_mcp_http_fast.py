"""Differential: http_fast.py beside uvicorn's own writes: the same responses, fewer writes.

Both servers get the same requests on one keep-alive connection each: a legacy
session (initialize, a call, a notification, a bad session), modern calls (JSON,
an SSE stream with progress, a header mismatch, an unknown method) and refusals
(Accept, Origin).  Status, headers (but Date and the session id) and bodies must
be equal.  A unit test checks the transport wrapper itself on a real socket pair.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys

import httpx
import pytest

from learn_mcp.http_fast import CoalescingTransport
from wirelab_common.processes import start_server

pytestmark = pytest.mark.differential

MODERN, LEGACY = "2026-07-28", "2025-11-25"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "pytest", "version": "0"}}
BOTH = "application/json, text/event-stream"


def modern(id: int, method: str, params: dict, name: str | None = None, **header: str) -> tuple[dict, dict]:
    meta = {**ENVELOPE, **params.get("_meta", {})}
    body = {"jsonrpc": "2.0", "id": id, "method": method, "params": {**params, "_meta": meta}}
    headers = {"Accept": BOTH, "MCP-Protocol-Version": MODERN, "Mcp-Method": method, **header}
    if name is not None:
        headers["Mcp-Name"] = name
    return body, headers


def exchange(url: str) -> list[tuple[int, dict, str]]:
    seen = []
    with httpx.Client(timeout=10) as client:
        def post(body: dict, headers: dict) -> httpx.Response:
            response = client.post(url, content=json.dumps(body), headers={"Content-Type": "application/json",
                                                                          **headers})
            kept = {k: v for k, v in response.headers.items() if k not in ("date", "mcp-session-id")}
            seen.append((response.status_code, kept, response.text))
            return response

        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {},
                           "clientInfo": {"name": "t", "version": "0"}}}
        session = post(init, {"Accept": BOTH}).headers["mcp-session-id"]
        legacy = {"Accept": BOTH, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        post({"jsonrpc": "2.0", "method": "notifications/initialized"}, legacy)
        post({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "calculate", "arguments": {"expression": "2 * (3 + 4)"}}}, legacy)
        post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, {**legacy, "Mcp-Session-Id": "nope"})
        divide = {"name": "calculate", "arguments": {"expression": "1 / 0"}}
        post(*modern(3, "tools/call", divide, "calculate"))
        sum_ = {"name": "calculate", "arguments": {"expression": "(2 + 3) * 4"}}
        post(*modern(4, "tools/call", sum_, "calculate"))
        post(*modern(5, "tools/call", {"name": "slow_count", "arguments": {"steps": 3, "delay": 0.01},
                                       "_meta": {"progressToken": "p"}}, "slow_count"))
        post(*modern(6, "tools/call", {"name": "calculate", "arguments": {"expression": "1"}}, "other"))
        post(*modern(7, "no/such", {}))
        post(*modern(8, "tools/list", {}, Accept="text/plain"))
        post(*modern(9, "tools/list", {}, Origin="http://evil.example"))
    return seen


def test_coalesced_and_plain_writes_answer_alike() -> None:
    answers = []
    for writes in ("coalesce", "plain"):
        argv = [sys.executable, "-m", "learn_mcp.server", "--transport", "http", "--port", "0", "-q",
                "--http-writes", writes]
        with start_server(argv, name=f"mcp-{writes}") as server:
            answers.append(exchange(f"{server.url}/mcp"))
    assert len(answers[0]) == 11
    assert any("text/event-stream" in headers.get("content-type", "") for _, headers, _ in answers[0])
    assert answers[0] == answers[1]


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


@pytest.mark.asyncio
async def test_one_write_per_loop_turn_and_close_flushes() -> None:
    real = Recorder()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"{}")
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"last")
    transport.close()
    assert real.writes[-1] == b"last" and real.closed
    await asyncio.sleep(0)
    assert len(real.writes) == 2  # the scheduled flush finds nothing left
    assert transport.get_extra_info("peername") == "info peername"


def test_socket_pair_gets_the_bytes_in_order() -> None:
    async def run() -> bytes:
        left, right = socket.socketpair()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, left)
        wrapper = CoalescingTransport(transport, loop)  # type: ignore[arg-type]
        for part in (b"a", b"b", b"c"):
            wrapper.write(part)
        await asyncio.sleep(0.05)
        wrapper.write(b"d")
        wrapper.close()
        right.setblocking(False)
        data = b""
        while chunk := await loop.sock_recv(right, 100):
            data += chunk
        right.close()
        return data

    assert asyncio.run(run()) == b"abcd"
