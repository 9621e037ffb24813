"""The stdio transport on a real subprocess: framing, stdout hygiene, cancellation, shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.loopback

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "0"}}}
SERVER = [sys.executable, "-m", "learn_mcp.server", "--transport", "stdio"]


class StdioPeer:
    """A hand-rolled client: one JSON line out, JSON lines back."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*SERVER, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(self, message: dict | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "server closed stdout"
        return json.loads(line)  # every stdout line must be JSON: nothing else may go there

    def until(self, id: int) -> tuple[list[dict], dict]:
        """Messages up to and including the response to ``id``: (notifications, response)."""
        notes = []
        while "id" not in (message := self.receive()) or message["id"] != id:
            notes.append(message)
        return notes, message

    def initialize(self) -> None:
        self.send(INIT)
        assert self.until(0)[1]["result"]["protocolVersion"] == "2025-11-25"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=10)
        return code, self.proc.stderr.read().decode() if self.proc.stderr else ""


@pytest.fixture
def peer():
    peer = StdioPeer()
    yield peer
    if peer.proc.poll() is None:
        peer.proc.kill()
        peer.proc.wait()


def call(id: int, tool: str, token: str | None = None, **arguments) -> dict:
    params: dict = {"name": tool, "arguments": arguments}
    if token:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


def test_handshake_then_tool_call_and_clean_exit_at_end_of_input(peer):
    peer.initialize()
    peer.send(call(1, "calculate", expression="1 + 1"))
    assert peer.until(1)[1]["result"]["structuredContent"] == {"value": 2}
    code, stderr = peer.close()
    assert code == 0
    assert "= mcp      listening on stdio" in stderr and "end of input" in stderr


def test_progress_notifications_precede_the_response(peer):
    peer.initialize()
    peer.send(call(2, "slow_count", token="t", steps=3, delay=0))
    notes, response = peer.until(2)
    assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
    assert response["result"]["structuredContent"] == {"counted": 3}


def test_cancelled_request_gets_no_response_and_others_continue(peer):
    peer.initialize()
    peer.send(call(3, "slow_count", token="t", steps=100, delay=0.05))
    assert peer.receive()["method"] == "notifications/progress"
    peer.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}})
    peer.send(call(4, "calculate", expression="3 * 3"))
    notes, response = peer.until(4)
    assert response["result"]["structuredContent"] == {"value": 9}
    assert all(n.get("id") != 3 for n in notes)  # never a response for the cancelled id
    peer.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
    notes, _ = peer.until(5)
    assert all(n.get("id") != 3 for n in notes)


def test_modern_and_legacy_requests_share_one_process(peer, wire):
    add = {"name": "add_note", "arguments": {"title": "a", "body": "b"}}
    peer.send(wire.modern_request("tools/call", add, id=1))
    assert peer.until(1)[1]["result"]["resultType"] == "complete"
    peer.initialize()
    peer.send(call(2, "search_notes", query=""))
    assert peer.until(2)[1]["result"]["structuredContent"]["notes"][0]["title"] == "a"


def test_sigterm_exits_zero(peer):
    peer.initialize()
    peer.proc.send_signal(signal.SIGTERM)
    assert peer.proc.wait(timeout=10) == 0


def test_verbose_traces_messages_on_stderr_only():
    peer = StdioPeer("-v")
    peer.initialize()
    peer.send(call(1, "slow_count", token="t", steps=2, delay=0))
    peer.until(1)
    code, stderr = peer.close()
    assert code == 0
    assert peer.proc.stdout is not None
    assert peer.proc.stdout.read() == b""  # every stdout line so far was JSON (receive() parsed it)
    assert "< mcp      #0 initialize protocolVersion=2025-11-25" in stderr  # the host's words for it
    assert '      {"jsonrpc": "2.0", "id": 0, "method": "initialize"' in stderr  # -v: the line as read
    assert '> mcp      #0 result {"protocolVersion"' in stderr
    assert '      {"jsonrpc":"2.0","id":0,"result"' in stderr
    assert "= mcp      new -> initializing (protocol 2025-11-25)" in stderr


def test_quiet_keeps_only_the_ready_line_on_stderr():
    peer = StdioPeer("-q")
    peer.initialize()
    code, stderr = peer.close()
    assert code == 0
    assert stderr.splitlines() == ["= mcp      listening on stdio"]
