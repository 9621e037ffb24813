"""Fixtures for the MCP tests: a running HTTP server; ``wire``: raw-message helpers;
``peer_checks``: what our client must manage with any server.

Test modules are imported in importlib mode, so they cannot import this file:
helpers reach them as fixtures (``wire.modern_request(...)``, ``peer_checks.exercise(...)``).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_binary, unavailable
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.wiretrace import Trace

NPM_PREFIX = Path(__file__).resolve().parents[2] / ".cache" / "npm"
NPM_INSTALL_TIMEOUT = 300
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "pytest", "version": "0"}}


def start_http_server(*extra: str) -> tuple[ManagedProcess, str]:
    """Our server over HTTP on a port the kernel picks; returns it and its /mcp URL."""
    argv = [sys.executable, "-m", "learn_mcp.server", "--transport", "http", "--port", "0", *extra]
    proc = start_server(argv, name="mcp-http")
    return proc, f"{proc.url}/mcp"


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """One HTTP server for a whole test module (they are stateless or use their own sessions)."""
    proc, url = start_http_server()
    with proc:
        yield url


def modern_request(method: str, params: dict | None = None, id: int = 1, **meta: object) -> dict:
    return {"jsonrpc": "2.0", "id": id, "method": method,
            "params": {**(params or {}), "_meta": {**ENVELOPE, **meta}}}


def modern_headers(body: dict) -> dict[str, str]:
    """The headers a 2026-07-28 client sends with ``body`` (transports/streamable-http)."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": body["method"]}
    name = body.get("params", {}).get("name") or body.get("params", {}).get("uri")
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def sse_messages(text: str) -> list[dict]:
    """The JSON-RPC messages in an SSE body (events with empty data are priming events)."""
    messages = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data:
            messages.append(json.loads(data))
    return messages


async def exercise(client, version: str) -> None:
    """What our client must manage with every peer server; asserts as it goes."""
    assert client.session.version == version
    tools = {t.name: t for t in await client.list_tools()}
    # the tools this exercise uses, and their hints (a server may offer more)
    assert {"calculate", "add_note", "search_notes", "delete_note", "slow_count"} <= set(tools)
    assert tools["delete_note"].destructive and not tools["search_notes"].destructive

    assert (await client.call_tool("calculate", {"expression": "2*(3+4)"})).value == {"value": 14}
    failed = await client.call_tool("calculate", {"expression": "1+"})
    assert failed.is_error and "1+" in failed.text

    added = (await client.call_tool("add_note", {"title": "Peer", "body": "written by the peer test"})).value
    found = (await client.call_tool("search_notes", {"query": "peer test"})).value
    assert added["id"] in [n["id"] for n in found["notes"]]
    deleted = await client.call_tool("delete_note", {"id": added["id"]})
    assert deleted.value == {"id": added["id"], "deleted": True}
    # A 2020-12 input schema (prefixItems: [title, body] tuples), whoever wrote it.
    assert "prefixItems" in json.dumps(tools["add_notes"].input_schema)
    pair = await client.call_tool("add_notes", {"notes": [["Tuple", "one"], ["Tuple", "two"]]})
    assert len(pair.value["ids"]) == 2

    progress: list[tuple[float, float | None]] = []
    counted = await client.call_tool("slow_count", {"steps": 3, "delay": 0.01},
                                     on_progress=lambda p, t, m: progress.append((p, t)))
    assert counted.value == {"counted": 3}
    assert progress == [(1, 3), (2, 3), (3, 3)]

    # Cancel a long call after its first progress notification; the server must go on serving.
    started = asyncio.Event()
    call = asyncio.create_task(client.call_tool("slow_count", {"steps": 100, "delay": 0.05},
                                                on_progress=lambda p, t, m: started.set()))
    await asyncio.wait_for(started.wait(), 10)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert (await client.call_tool("calculate", {"expression": "6*7"})).value == {"value": 42}


ERAS = {"modern": (MODERN, LEGACY), "legacy": (LEGACY,)}
STDIO_EXIT_GRACE = 15.0  # seconds per shutdown step in over_stdio (the host's default is 3)


def quiet() -> Trace:
    return Trace("host", stream=io.StringIO())


async def over_stdio(server_argv: list[str], era: str) -> None:
    """Our client starts ``server_argv`` over stdio, offering ``era``'s versions, and exercises it."""
    from learn_mcp.host.client import McpClient

    versions = ERAS[era]
    client = await McpClient.stdio([*server_argv, "--transport", "stdio"], quiet(), versions=versions,
                                   probe_timeout=30)
    try:
        await exercise(client, versions[0])
    finally:
        # transports/stdio §Shutdown: close stdin and wait for the exit.  The host waits 3 s per
        # step before SIGTERM and SIGKILL; a Python server (the SDK's) on a loaded 2-core machine
        # has taken longer than that, so the test waits up to STDIO_EXIT_GRACE s per step (bounded:
        # callers mark their tests with a timeout above three of those).
        code = await client.transport.close(grace=STDIO_EXIT_GRACE)
        await client.close()  # the rest of the host's shutdown; the process has exited by now
    how = {-15: ": it was sent SIGTERM", -9: ": it was killed with SIGKILL"}.get(code or 0, "")
    assert code == 0, (f"the server did not exit by itself within {STDIO_EXIT_GRACE} s of its stdin "
                       f"closing (exit code {code}{how})")


async def over_http(url: str, era: str, token: str | None = None) -> None:
    """Our client over Streamable HTTP, offering ``era``'s versions; a legacy session has an id."""
    from learn_mcp.host.client import McpClient

    versions = ERAS[era]
    client = await McpClient.http(url, quiet(), versions=versions, token=token)
    try:
        if era == "legacy":
            assert client.transport.session_id
        await exercise(client, versions[0])
    finally:
        await client.close()


@pytest.fixture(scope="session")
def peer_checks() -> types.SimpleNamespace:
    return types.SimpleNamespace(exercise=exercise, quiet=quiet, ERAS=ERAS, over_stdio=over_stdio,
                                 over_http=over_http)


@pytest.fixture(scope="session")
def wire() -> types.SimpleNamespace:
    return types.SimpleNamespace(MODERN=MODERN, LEGACY=LEGACY, ENVELOPE=ENVELOPE,
                                 start_http_server=start_http_server, modern_request=modern_request,
                                 modern_headers=modern_headers, sse_messages=sse_messages)


def npm_tool(package: str, version: str, binary: str) -> Path:
    """``binary`` of ``package@version``, installed once into .cache/npm (node 20 needs these pins)."""
    need_binary("node", "nodejs")
    need_binary("npm", "npm")
    manifest = NPM_PREFIX / "node_modules" / package / "package.json"
    path = NPM_PREFIX / "node_modules" / ".bin" / binary
    if not (manifest.exists() and json.loads(manifest.read_text())["version"] == version and path.exists()):
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        try:
            argv = ["npm", "install", "--prefix", str(NPM_PREFIX), "--save-exact", "--no-audit", "--no-fund",
                    f"{package}@{version}"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            done = None
        if done is None or done.returncode != 0 or not path.exists():
            why = done.stderr[-800:] if done else "timeout"
            unavailable(f"npm install {package}@{version} failed: {why}")
    return path


@pytest.fixture(scope="session")
def conformance_bin() -> Path:
    return npm_tool("@modelcontextprotocol/conformance", "0.1.13", "conformance")


@pytest.fixture(scope="session")
def inspector_bin() -> Path:
    return npm_tool("@modelcontextprotocol/inspector", "0.15.0", "mcp-inspector")
