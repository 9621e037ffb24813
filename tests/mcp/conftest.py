"""Fixtures for the MCP server tests: a running HTTP server, and ``wire``: raw-message helpers.

Test modules are imported in importlib mode, so they cannot import this file:
helpers reach them as the ``wire`` fixture (``wire.modern_request(...)``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_binary, unavailable
from wirelab_common.processes import ManagedProcess, start_server

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
