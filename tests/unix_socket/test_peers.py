"""Peers nobody here wrote: socat and nc -U on our server, curl on uvicorn --uds, tmux around our client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from learn_unix_socket.client import SessionClient
from learn_unix_socket.frames import FrameParser, FrameType, serialize
from tests.conftest import need_binary
from wirelab_common.processes import start_process
from wirelab_common.waiting import eventually

pytestmark = [pytest.mark.differential, pytest.mark.timeout(60)]

LIST = serialize(FrameType.LIST)


def frames_of(data: bytes) -> list:
    return FrameParser().feed(data)


@pytest.fixture
def with_session(server):
    """A server with one session, 'work', kept attached by a client for the test's length."""
    _, path = server
    with SessionClient(path) as client:
        client.attach("work", ["sh", "-i"])
        yield path


def test_socat_lists_the_sessions(with_session):
    socat = need_binary("socat", "socat")
    result = subprocess.run([socat, "-t", "2", "-", f"UNIX-CONNECT:{with_session}"], input=LIST,
                            capture_output=True, timeout=20)
    (frame,) = frames_of(result.stdout)
    assert frame.type is FrameType.SESSIONS
    assert frame.payload.startswith(b"work pid=") and b"clients=1" in frame.payload


def test_socat_sending_garbage_gets_an_error_and_the_session_lives_on(with_session):
    socat = need_binary("socat", "socat")
    result = subprocess.run([socat, "-t", "2", "-", f"UNIX-CONNECT:{with_session}"],
                            input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=20)
    (frame,) = frames_of(result.stdout)
    assert frame.type is FrameType.ERROR and b"unknown frame type 0x47" in frame.payload  # 'G'
    with SessionClient(with_session) as client:
        assert client.list()[0].startswith("work ")


def test_nc_u_lists_the_sessions(with_session):
    nc = need_binary("nc", "netcat-openbsd")
    result = subprocess.run([nc, "-U", "-N", with_session], input=LIST, capture_output=True, timeout=20)
    (frame,) = frames_of(result.stdout)
    assert frame.type is FrameType.SESSIONS and frame.payload.startswith(b"work ")


def test_curl_reaches_the_fastapi_app_that_uvicorn_serves_on_a_unix_socket(with_session, short_tmp):
    curl = need_binary("curl", "curl")
    api = os.path.join(short_tmp, "api.sock")
    argv = [sys.executable, "-m", "uvicorn", "--uds", api, "learn_unix_socket.http_api:app"]
    with start_process(argv, name="uvicorn", ready_line=r"Uvicorn running on unix socket",
                       env={"WIRELAB_SESSION_SOCKET": with_session}):
        result = subprocess.run([curl, "-sS", "--max-time", "10", "--unix-socket", api,
                                 "http://localhost/sessions"], capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert body["socket"] == with_session
        assert [s["name"] for s in body["sessions"]] == ["work"]
        assert body["sessions"][0]["clients"] == "1"
        health = subprocess.run([curl, "-sS", "--unix-socket", api, "http://localhost/healthz"],
                                capture_output=True, text=True, timeout=20)
        assert json.loads(health.stdout) == {"status": "ok"}


class Tmux:
    """A private tmux server (its own -L socket) with one 80x24 pane running sh."""

    def __init__(self, binary: str) -> None:
        self.argv = [binary, "-L", f"wlux-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
        self("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "sh")

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.argv, *args], check=True, capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 15) -> str:
        seen = [""]

        def shown() -> str | None:
            seen[0] = self.screen()
            return seen[0] if text in seen[0] else None

        try:
            return eventually(shown, timeout, f"{text!r} on the tmux screen")
        except Exception as exc:  # NotInTime: say what the screen showed instead
            raise AssertionError(f"{exc}; the screen:\n{seen[0]}") from None

    def kill(self) -> None:
        subprocess.run([*self.argv, "kill-server"], capture_output=True, timeout=10)


def test_a_full_screen_program_survives_detach_and_reattach_in_tmux(server, short_tmp):
    tmux_binary = need_binary("tmux", "tmux")
    need_binary("less", "less")
    _, path = server
    text = os.path.join(short_tmp, "numbers.txt")
    with open(text, "w") as f:
        f.writelines(f"line-{n:03d}\n" for n in range(1, 201))
    attach = f"{sys.executable} -m learn_unix_socket.client --socket {path} attach pager"
    tmux = Tmux(tmux_binary)
    try:
        tmux("send-keys", "-t", "t", f"{attach} -- less {text}", "Enter")
        tmux.wait_for("line-023")  # less fills the 24-row pane: 23 lines and its prompt
        tmux("send-keys", "-t", "t", "G")
        tmux.wait_for("(END)")
        assert "line-200" in tmux.screen()
        tmux("send-keys", "-t", "t", "C-]")
        tmux.wait_for("[detached from pager]")
        with SessionClient(path) as client:
            assert client.list()[0].startswith("pager ")  # less runs on, with no client
        tmux("send-keys", "-t", "t", "clear", "Enter")
        eventually(lambda: "line-" not in tmux.screen(), 15, "tmux's screen cleared")
        tmux("send-keys", "-t", "t", attach, "Enter")
        screen = tmux.wait_for("(END)")  # redrawn where we left it (SIGWINCH on attach)
        assert "line-200" in screen and "line-023" not in screen
        tmux("send-keys", "-t", "t", "q")
        tmux.wait_for("[pager exited with status 0]")
    finally:
        tmux.kill()
