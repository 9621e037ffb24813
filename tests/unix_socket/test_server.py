"""The session server as a process on a Unix socket: sessions, attach and detach, bad clients, stale files."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys

import pytest

from learn_unix_socket.client import ServerError, SessionClient
from learn_unix_socket.frames import FrameParser, FrameType, serialize
from learn_unix_socket.protocol import Attach, encode_request
from tests.unix_socket.conftest import fd_count, start_session_server
from wirelab_common.processes import ProcessNotReady
from wirelab_common.waiting import eventually

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(60)]

SHELL = ["sh", "-i"]


def raw_exchange(path: str, data: bytes, timeout: float = 5.0) -> list:
    """Send ``data`` on a bare socket; return every frame until the server closes the connection."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    sock.sendall(data)
    parser, frames = FrameParser(), []
    with sock:
        while chunk := sock.recv(65536):
            frames += parser.feed(chunk)
    return frames


def test_the_runtime_directory_is_0700_and_the_socket_0600(server):
    _, path = server
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_a_command_runs_in_a_real_terminal(server):
    _, path = server
    with SessionClient(path) as client:
        client.attach("t", SHELL)
        client.type("test -t 0 && echo is-a-tty-$((1+1))\n")
        client.read_until(b"is-a-tty-2")


def test_two_clients_see_the_same_output(server):
    _, path = server
    with SessionClient(path) as a, SessionClient(path) as b:
        a.attach("shared", SHELL)
        b.attach("shared")
        b.type("echo from-b-$((2*21))\n")
        a.read_until(b"from-b-42")
        b.read_until(b"from-b-42")


def test_a_session_outlives_its_client_and_replays_what_it_missed(server):
    _, path = server
    with SessionClient(path) as a:
        a.attach("keep", SHELL)
        a.type("sleep 0.5; echo later-$((3*3))\n")
    # a's connection is gone before the echo; the output is kept for the next client
    with SessionClient(path) as b:
        assert any(line.startswith("keep ") for line in b.list())
        b.attach("keep")
        b.read_until(b"later-9")


def test_attaching_to_a_missing_session_without_a_command_is_an_error_and_the_client_stays(server):
    _, path = server
    with SessionClient(path) as client:
        with pytest.raises(ServerError, match="no session 'nope'"):
            client.attach("nope")
        assert client.list() == []  # still connected, back to idle


def test_resize_sets_the_terminal_size_and_sends_sigwinch(server):
    _, path = server
    with SessionClient(path) as client:
        # A non-interactive sh runs its traps between commands: here, every 0.1 s.
        script = "trap 'echo winch-$(stty size | tr \" \" x)' WINCH; echo ready-$((1+1)); " \
                 "while :; do sleep 0.1; done"
        client.attach("r", ["sh", "-c", script], rows=24, cols=80)
        client.read_until(b"ready-2")
        client.resize(30, 100)
        client.read_until(b"winch-30x100")


def test_the_program_exiting_tells_every_attached_client(server):
    _, path = server
    with SessionClient(path) as a, SessionClient(path) as b:
        a.attach("short", SHELL)
        b.attach("short")
        a.type("exit 3\n")
        for client in (a, b):
            assert client.next_frame().type is FrameType.EXITED
            assert client.exit_status == 3
        assert a.list() == []


@pytest.mark.parametrize(("data", "error"), [
    (bytes.fromhex("7f 00000000"), "unknown frame type 0x7f"),
    (bytes([FrameType.INPUT]) + (10**9).to_bytes(4, "big"), "announces 1000000000 bytes"),
    (serialize(FrameType.INPUT, b"x"), "INPUT is not allowed while idle"),
    (serialize(FrameType.RESIZE, b"\x00"), "RESIZE carries 4 bytes"),
])
def test_a_bad_frame_closes_that_client_only(server, data, error):
    _, path = server
    with SessionClient(path) as good:
        good.attach("calm", SHELL)
        frames = raw_exchange(path, data)
        assert [f.type for f in frames] == [FrameType.ERROR]
        assert error in frames[0].payload.decode()
        good.type("echo still-here-$((5+5))\n")
        good.read_until(b"still-here-10")


def test_a_client_killed_mid_frame_does_not_disturb_the_session(server):
    _, path = server
    with SessionClient(path) as watcher:
        watcher.attach("steady", SHELL)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        sock.sendall(encode_request(Attach("steady", 24, 80)))
        sock.sendall(serialize(FrameType.INPUT, b"echo half")[:8])  # header and 3 of 9 payload bytes
        sock.close()  # gone mid-frame, as a killed client is
        watcher.type("echo whole-$((7*6))\n")
        out = watcher.read_until(b"whole-42")
        assert b"echo half" not in out  # the partial frame never reached the terminal


def test_descriptors_are_not_leaked(server):
    proc, path = server
    with SessionClient(path) as first:  # one session first: its pty and log stay open by design
        first.attach("fds", SHELL)
        first.detach()
    proc.wait_line(r"c1\s+closed", timeout=5)
    before = fd_count(proc.pid)
    for _ in range(5):
        with SessionClient(path) as client:
            client.attach("fds")
            log_path, fd = client.log_fd()
            os.close(fd)
            client.detach()
        raw_exchange(path, b"garbage!")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        sock.sendall(b"\x04\x00")
        sock.close()
    proc.wait_line(r"c16\s+closed", timeout=5)  # 1 + 5 x 3 connections, all gone
    eventually(lambda: fd_count(proc.pid) == before, timeout=5,
               what=f"the server's descriptors back to {before} (now {fd_count(proc.pid)})")


def test_the_client_library_leaks_no_descriptor():
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(OSError):
            SessionClient("/nonexistent/socket")
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_stale_socket_file_is_replaced(short_tmp):
    path = os.path.join(short_tmp, "stale")
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(path)  # a socket file with nobody listening: what a crashed server leaves
    crashed.close()
    assert os.path.exists(path)
    proc = start_session_server(path)
    try:
        assert "stale socket" in proc.output() and "removed" in proc.output()
        with SessionClient(path) as client:
            assert client.list() == []
    finally:
        proc.stop()


def test_a_live_server_is_not_stolen(server):
    first, path = server
    with pytest.raises(ProcessNotReady) as caught:
        start_session_server(path)
    assert "a server is already listening on" in str(caught.value)
    assert first.alive()
    with SessionClient(path) as client:  # the first one still owns the socket
        assert client.list() == []


def test_a_runtime_directory_open_to_others_is_refused(short_tmp):
    loose = os.path.join(short_tmp, "wirelab-sessions")  # the default directory under XDG_RUNTIME_DIR
    os.mkdir(loose)
    os.chmod(loose, 0o755)
    argv = [sys.executable, "-m", "learn_unix_socket.server"]
    result = subprocess.run(argv, env={**os.environ, "XDG_RUNTIME_DIR": short_tmp}, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "has mode 0755: other users could reach the socket" in result.stderr
    assert "chmod 700" in result.stderr
    assert os.listdir(loose) == []


def test_shutdown_hangs_up_sessions_and_removes_the_socket(server):
    proc, path = server
    with SessionClient(path) as client:
        client.attach("bye", SHELL)
        client.type("echo pid-$$\n")
        client.read_until(b"pid-")
    proc.signal(signal.SIGTERM)
    proc.popen.wait(10)
    assert proc.popen.returncode == 0
    assert not os.path.exists(path)
    # the server has exited; its last lines may still be on their way through the stdout pipe
    eventually(lambda: "session bye exited" in proc.output(), 10, "the server saying session bye exited")


def test_a_client_that_stops_reading_is_dropped_and_the_others_see_everything(server):
    proc, path = server
    with SessionClient(path) as watcher:
        watcher.attach("flood", SHELL)
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.connect(path)
        stalled.sendall(encode_request(Attach("flood", 24, 80)))  # then never reads
        try:
            watcher.type("yes wirelab | head -c 6000000; echo end-$((2+3))\n")
            watcher.read_until(b"end-5", timeout=40)
            proc.wait_line(r"c2\s+dropped: \d+ bytes queued, the client reads too slowly", timeout=5)
        finally:
            stalled.close()
        assert watcher.output.count(b"wirelab\r\n") >= 6000000 // len(b"wirelab\n") - 1


def test_a_command_that_cannot_run_ends_the_session_with_status_127(server):
    _, path = server
    with SessionClient(path) as client:
        client.attach("bad", ["/nonexistent/program"])
        assert client.next_frame().type is FrameType.EXITED
        assert client.exit_status == 127


def test_input_larger_than_the_terminal_buffer_arrives_whole(server, short_tmp):
    """The pty takes a few KiB at a time; the rest waits in the session, nothing is dropped."""
    _, path = server
    out = os.path.join(short_tmp, "received")
    data = bytes(range(256)) * 1200  # 307,200 bytes, every byte value
    with SessionClient(path) as client:
        script = f"stty raw -echo; echo ready; head -c {len(data)} > {out}; echo got-$(wc -c < {out})"
        client.attach("big", ["sh", "-c", script])
        client.read_until(b"ready")
        for start in range(0, len(data), 60000):
            client.type(data[start:start + 60000])
        client.read_until(f"got-{len(data)}".encode(), timeout=30)
    with open(out, "rb") as received:
        assert received.read() == data
