"""SO_PEERCRED and SCM_RIGHTS with a second, real user that the test creates (as root) and removes."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import uuid

import pytest

from learn_unix_socket.client import SessionClient
from learn_unix_socket.credentials import list_as, read_fd_as
from learn_unix_socket.protocol import AskLog
from tests.conftest import need_binary, unavailable
from tests.unix_socket.conftest import start_session_server
from wirelab_common.errors import CheckFailed

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(60)]


@pytest.fixture
def second_user():
    """(uid, gid) of a user made for this test with useradd, deleted afterwards."""
    if os.getuid() != 0:
        unavailable("creating a second user (useradd) needs root")
    need_binary("useradd", "passwd")
    name = f"wlux{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
                   check=True, timeout=30)
    try:
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], check=False, timeout=30)


@pytest.fixture
def open_dir(short_tmp):
    """A directory others may enter: the socket's own mode is then the only file-system lock."""
    os.chmod(short_tmp, 0o755)
    folder = os.path.join(short_tmp, "open")
    os.mkdir(folder)
    os.chmod(folder, 0o755)
    return folder


def test_the_private_directory_stops_another_user_before_the_server(server, second_user):
    proc, path = server
    assert list_as(*second_user, path) == {"errno": "Permission denied"}
    assert f"uid={second_user[0]}" not in proc.output()  # the server never heard of it


def test_the_server_refuses_another_uid_by_its_credentials(open_dir, second_user):
    path = os.path.join(open_dir, "s")
    proc = start_session_server(path, "--socket-mode", "666")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666
        result = list_as(*second_user, path)
        assert result == {"ERROR": f"uid {second_user[0]} may not use this server (allowed: 0)"}
        proc.wait_line(rf"connected: pid=\d+ uid={second_user[0]} gid={second_user[1]} \(SO_PEERCRED\)")
    finally:
        proc.stop()


def test_an_allowed_uid_gets_in(open_dir, second_user):
    path = os.path.join(open_dir, "s")
    proc = start_session_server(path, "--socket-mode", "666", "--allow-uid", str(second_user[0]))
    try:
        assert list_as(*second_user, path) == {"SESSIONS": ""}
    finally:
        proc.stop()


def test_without_the_check_any_uid_gets_in(open_dir, second_user):
    """The demo's --no-peercred: what the check was stopping."""
    path = os.path.join(open_dir, "s")
    proc = start_session_server(path, "--socket-mode", "666", "--no-peercred")
    try:
        assert list_as(*second_user, path) == {"SESSIONS": ""}
    finally:
        proc.stop()


def test_the_log_arrives_as_a_read_only_descriptor_to_the_same_file(server):
    _, path = server
    with SessionClient(path) as client:
        client.attach("logged", ["sh", "-i"])
        client.type("echo logged-$((4*4))\n")
        client.read_until(b"logged-16")
        log_path, fd = client.log_fd()
        try:
            assert os.fstat(fd).st_ino == os.stat(log_path).st_ino
            assert stat.S_IMODE(os.stat(log_path).st_mode) == 0o600
            assert b"logged-16" in os.pread(fd, 65536, 0)
            with pytest.raises(OSError) as caught:
                os.write(fd, b"forged")
            assert caught.value.errno == 9  # EBADF: opened O_RDONLY, and that travelled with it
        finally:
            os.close(fd)


def test_a_descriptor_lets_a_user_read_what_it_may_not_open(server, second_user):
    _, path = server
    with SessionClient(path) as client:
        client.attach("secret", ["sh", "-i"])
        client.type("echo secret-$((8*8))\n")
        client.read_until(b"secret-64")
        log_path, fd = client.log_fd()
        try:
            result = read_fd_as(*second_user, fd, log_path)
        finally:
            os.close(fd)
    assert result["by_path"] == "Permission denied"
    assert "secret-64" in result["through_fd"]


def test_without_fd_passing_the_client_says_so(server_factory):
    _, path = server_factory("--no-fd-passing")
    with SessionClient(path) as client:
        client.attach("nofd", ["sh", "-i"])
        with pytest.raises(CheckFailed, match="without a file descriptor"):
            client.log_fd()


def test_received_descriptors_are_closed_with_the_client(server):
    _, path = server
    before = len(os.listdir("/proc/self/fd"))
    with SessionClient(path) as client:
        client.attach("count", ["sh", "-i"])
        for _ in range(3):
            client.send(AskLog(""))
        for _ in range(3):
            client.next_frame()
        assert len(client.fds) == 3  # received, unclaimed
    assert len(os.listdir("/proc/self/fd")) == before
