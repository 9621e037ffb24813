"""Differential: stdio_fast's LineReader and the lesson's StreamReader loop answer the same bytes alike."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys

import pytest

from learn_mcp.server_core import ServerCore
from learn_mcp.stdio_fast import serve_lines
from learn_mcp.stdio_transport import MAX_LINE, StdioConnection
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback  # real pipes and a real subprocess

LEGACY, MODERN = "2025-11-25", "2026-07-28"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"}}


def line(message: dict) -> bytes:
    return json.dumps(message).encode() + b"\n"


def calc(id: int, expression: str, modern: bool = False) -> bytes:
    params: dict = {"name": "calculate", "arguments": {"expression": expression}}
    if modern:
        params["_meta"] = ENVELOPE
    return line({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})


SESSION = b"".join([
    line({"jsonrpc": "2.0", "id": 0, "method": "initialize",
          "params": {"protocolVersion": LEGACY, "capabilities": {},
                     "clientInfo": {"name": "t", "version": "0"}}}),
    line({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    calc(1, "(2 + 3) * 4 - 6"),
    b"\n   \n",  # blank lines are skipped
    b"{not json\n",
    line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    line({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}),
    calc(4, "1 / 0"),
    calc(5, "2 ** 10", modern=True),
    calc(6, "7 * 6", modern=True),
    calc(6, "7 * 6", modern=True),  # the same id while the first may still run
    line({"jsonrpc": "2.0", "id": 7, "method": "ping"})[:-1],  # the last line has no newline
])


async def serve(reader: str, chunks: list[bytes], limit: int = MAX_LINE) -> bytes:
    """Feed ``chunks`` through a real pipe to one reader; everything it wrote to its output."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    pipe = os.fdopen(read_fd, "rb", buffering=0)
    output = io.BytesIO()
    trace = Trace("mcp", quiet=True)
    transport = None
    if reader == "stream":
        stream = asyncio.StreamReader(limit=limit)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
        serving = asyncio.create_task(StdioConnection(ServerCore(asyncio.sleep), stream, output, trace,
                                                      limit=limit).serve())
    else:
        serving = asyncio.create_task(serve_lines(StdioConnection(ServerCore(asyncio.sleep), None, output,
                                                                  trace, limit=limit), pipe))
    try:
        for chunk in chunks:
            os.write(write_fd, chunk)
            await asyncio.sleep(0.02)  # each chunk arrives on its own
    finally:
        os.close(write_fd)
    await asyncio.wait_for(serving, 10)
    if transport is not None:
        transport.close()
    return output.getvalue()


async def both(chunks: list[bytes], limit: int = MAX_LINE) -> bytes:
    lesson, fast = await serve("stream", chunks, limit), await serve("fast", chunks, limit)
    assert fast == lesson
    return fast


async def test_one_chunk():
    out = [json.loads(x) for x in (await both([SESSION])).splitlines()]
    answers = {a.get("id"): a for a in out}
    assert answers[None]["error"]["code"] == -32700  # the bad JSON
    assert answers[1]["result"]["structuredContent"] == {"value": 14}
    assert answers[5]["result"]["structuredContent"] == {"value": 1024}
    assert sorted("result" in a for a in out if a.get("id") == 6) == [False, True]  # id 6 twice: one refused
    assert "result" in answers[7]  # the last line, without a newline, was read


@pytest.mark.parametrize("size", [1, 7, 64])
async def test_lines_split_across_chunks(size: int):
    await both([SESSION[i:i + size] for i in range(0, len(SESSION), size)][:60])


async def test_line_per_chunk():
    await both([x + b"\n" for x in SESSION.split(b"\n")])


async def test_too_long_line_ends_the_input():
    long = calc(9, " + ".join(["1"] * 60))
    assert len(long) > 200
    out = await both([calc(1, "1 + 1") + long + calc(10, "2 + 2")], limit=200)
    answers = [json.loads(x) for x in out.splitlines()]
    assert answers[-1]["error"]["code"] == -32600 and "200 bytes" in answers[-1]["error"]["message"]
    assert not any(a.get("id") == 10 for a in answers)  # nothing after the long line is read


async def test_too_long_unfinished_line():
    await both([calc(1, "1 + 1"), b"[" * 300], limit=200)


async def test_end_of_input_at_once():
    assert await both([]) == b""


def test_server_chooses_either_reader():
    """``--stdio-reader``: the real server, both readers, the same session in one write: the same output."""
    outputs = {}
    for reader in ("stream", "fast"):
        proc = subprocess.run([sys.executable, "-m", "learn_mcp.server", "--transport", "stdio", "-q",
                               "--stdio-reader", reader], input=SESSION, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
        outputs[reader] = proc.stdout
    assert outputs["fast"] == outputs["stream"]
    assert b'"structuredContent":{"value":14}' in outputs["fast"]
