"""mcp benchmark: ``tools/call`` round trips per second, our server beside the SDK's MCPServer.

    python bench/bench_mcp.py [--seconds 3] [--rounds 2]

Both servers offer ``calculate`` with the same function body (learn_mcp.calculator), and
both are driven by the same lean client written here (no SDK on the client side, so
the client costs the same for both):

- **stdio**: the server is a child process; one JSON line out, lines read back until
  the response with that id.
- **Streamable HTTP**: one keep-alive HTTP/1.1 connection over raw asyncio streams,
  one POST per call.  The client reads a JSON body or an SSE body to its end,
  whichever the server sends.

Each transport is measured in both protocol revisions, which both servers speak:

- **2025-11-25**: ``initialize`` first (over HTTP it opens a session, and every call
  carries ``Mcp-Session-Id``); the SDK answers legacy HTTP calls with SSE by default,
  ours with JSON unless notifications may come first.
- **2026-07-28**: no handshake; every call carries the ``_meta`` envelope (and, over
  HTTP, the ``MCP-Protocol-Version``/``Mcp-Method``/``Mcp-Name`` headers).  This is
  what the SDK's high-level ``Client`` speaks.

One request is in flight at a time, so the figure is 1 / round-trip latency.  Each
measurement runs ``--seconds`` after 100 warm-up calls; rounds alternate ours/SDK
and the median is printed.  Target (bench/README.md, mcp row): >= 3x the SDK on
both transports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from wirelab_common.bench_report import report
from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import start_server

HERE = Path(__file__).resolve().parent
OURS = {"stdio": [sys.executable, "-m", "learn_mcp.server", "--transport", "stdio"],
        "http": [sys.executable, "-m", "learn_mcp.server", "--transport", "http"]}
SDK = {"stdio": [sys.executable, str(HERE / "bench_mcp_sdk_server.py"), "--transport", "stdio"],
       "http": [sys.executable, str(HERE / "bench_mcp_sdk_server.py"), "--transport", "http"]}
TARGET = 3.0  # bench/README.md, mcp row
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
ERAS = ("2025-11-25", "2026-07-28")
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"}}
MODERN_HEADERS = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "calculate"}


def call(id: int, era: str) -> dict:
    params: dict = {"name": "calculate", "arguments": {"expression": "(2 + 3) * 4 - 6"}}
    if era != "2025-11-25":
        params["_meta"] = ENVELOPE
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


def check_result(message: dict) -> None:
    result = message.get("result") or {}
    check(result.get("structuredContent") == {"value": 14}, f"unexpected answer: {message}")


class StdioPeer:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, argv: list[str], era: str) -> StdioPeer:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL, limit=1 << 22)
        peer = cls(proc)
        if era == "2025-11-25":
            check("result" in await peer.request(INIT), "initialize failed")
            await peer.notify(INITIALIZED)
        return peer

    async def notify(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def request(self, message: dict) -> dict:
        await self.notify(message)
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            check(bool(line), "the server closed stdout")
            reply = json.loads(line)
            if reply.get("id") == message["id"]:
                return reply

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class HttpPeer:
    """Just enough HTTP/1.1: POST with Content-Length; read a Content-Length or chunked body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.headers: dict[str, str] = {}

    async def start(self, era: str) -> HttpPeer:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        if era != "2025-11-25":
            self.headers = MODERN_HEADERS
            return self
        status, headers, messages = await self.post(INIT)
        check(status == 200 and "result" in messages[-1], f"initialize failed: {status} {messages}")
        self.headers = {"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        status, _, _ = await self.post(INITIALIZED)
        check(status == 202, f"initialized notification got {status}")
        return self

    async def post(self, message: dict) -> tuple[int, dict[str, str], list[dict]]:
        body = json.dumps(message).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        head = (f"POST /mcp HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n{extra}\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            data = b"".join(parts)
        else:
            data = b""
        if headers.get("content-type", "").startswith("text/event-stream"):
            messages = [json.loads(line[5:]) for line in data.decode().splitlines()
                        if line.startswith("data:") and line[5:].strip()]
        else:
            messages = [json.loads(data)] if data else []
        return status, headers, messages

    async def request(self, message: dict) -> dict:
        _, _, messages = await self.post(message)
        return messages[-1]

    async def close(self) -> None:
        self.writer.close()


async def measure(peer: StdioPeer | HttpPeer, seconds: float, era: str) -> float:
    check_result(await peer.request(call(1, era)))
    for n in range(100):
        await peer.request(call(2 + n, era))
    count, start, next_id = 0, time.perf_counter(), 1000
    deadline = start + seconds
    while time.perf_counter() < deadline:
        reply = await peer.request(call(next_id, era))
        if "result" not in reply:
            raise CheckFailed(f"call failed: {reply}")
        count, next_id = count + 1, next_id + 1
    return count / (time.perf_counter() - start)


async def run_stdio(argv: list[str], seconds: float, era: str) -> float:
    peer = await StdioPeer.start(argv, era)
    try:
        return await measure(peer, seconds, era)
    finally:
        await peer.close()


async def run_http(argv: list[str], seconds: float, era: str) -> float:
    with start_server([*argv, "--port", "0", "-q"], name="bench-server", timeout=30) as server:
        peer = await HttpPeer("127.0.0.1", server.port).start(era)
        try:
            return await measure(peer, seconds, era)
        finally:
            await peer.close()


async def bench(seconds: float, rounds: int) -> bool:
    Runner = Callable[[list[str], float, str], Awaitable[float]]
    runners: dict[str, Runner] = {"stdio": run_stdio, "http": run_http}
    rows = []
    for transport, runner in runners.items():
        for era in ERAS:
            ours, sdk = [], []
            for _ in range(rounds):
                ours.append(await runner(OURS[transport], seconds, era))
                sdk.append(await runner(SDK[transport], seconds, era))
            rows.append((transport, era, statistics.median(ours), statistics.median(sdk)))
    print(f"tools/call round trips/s, one in flight, median of {rounds} rounds of {seconds:g} s "
          f"(shared, noisy 2-core machine)")
    print(f"{'transport':<16} {'revision':<11} {'ours/s':>8} {'SDK/s':>8} {'ours/SDK':>9} {'target':>7}  met")
    met = True
    for transport, era, ours_rate, sdk_rate in rows:
        ratio = ours_rate / sdk_rate
        met = met and ratio >= TARGET
        name = "stdio" if transport == "stdio" else "Streamable HTTP"
        print(f"{name:<16} {era:<11} {ours_rate:>8.0f} {sdk_rate:>8.0f} {ratio:>8.2f}x {TARGET:>6.1f}x  "
              f"{'yes' if ratio >= TARGET else 'no'}")
    for transport, era, ours_rate, sdk_rate in rows:  # after the table, as every benchmark does
        name = "stdio" if transport == "stdio" else "Streamable HTTP"
        report("mcp", f"tools/call, {name}, {era}", ours_rate / sdk_rate, TARGET,
               anchor="official SDK MCPServer")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    run_main(lambda: bench(args.seconds, args.rounds))


if __name__ == "__main__":
    main()
