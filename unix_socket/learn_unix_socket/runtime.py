"""Where the server's socket lives, and how it takes the path: a private directory, stale files replaced.

Reading order: frames -> protocol -> pty_session -> **runtime** -> server / client -> demo.

A Unix socket is a file name, so the file system's permissions are its first
lock.  Like tmux (``/tmp/tmux-UID/default``), the server keeps its socket in
a directory of its own: mode 0700 and owned by the server's user, so no
other user can even reach the socket, and the socket itself is 0600.  A
directory that exists with looser modes or another owner is refused, not
fixed: someone else may have made it to catch our socket.

A socket file outlives a server that crashed (nobody unlinked it), and
``bind()`` on an existing path fails with EADDRINUSE.  So before binding,
:func:`bind_unix` asks the path itself: a ``connect()`` that is refused
means nobody listens (a stale file: unlink it and bind); one that succeeds
means a live server owns it (refuse to start, never steal it).
"""

from __future__ import annotations

import os
import socket
import stat
import struct

from wirelab_common.errors import SetupError
from wirelab_common.wiretrace import Trace

SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, one of them the terminating NUL


def default_socket_path() -> str:
    """``$XDG_RUNTIME_DIR/wirelab-sessions/default``, or ``/tmp/wirelab-sessions-UID/default``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = os.path.join(runtime, "wirelab-sessions") if runtime else f"/tmp/wirelab-sessions-{os.getuid()}"
    return os.path.join(folder, "default")


def private_dir(path: str) -> str:
    """Create ``path`` with mode 0700, or check that it is ours and closed to others."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise SetupError(f"{path} exists and is not a directory", "remove it or pass another --socket")
    if info.st_uid != os.getuid():
        raise SetupError(f"{path} belongs to uid {info.st_uid}, not to us (uid {os.getuid()})",
                         "someone else made it: pass another --socket")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise SetupError(f"{path} has mode {mode:04o}: other users could reach the socket",
                         f"chmod 700 {path}, or remove it")
    return path


def bind_unix(path: str, trace: Trace, mode: int = 0o600) -> socket.socket:
    """A listening SOCK_STREAM socket on ``path``, replacing a stale file, never a live server's."""
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise SetupError(f"socket path is {len(os.fsencode(path))} bytes; a Unix socket path holds at most "
                         f"{SUN_PATH_MAX}", "pass a shorter --socket (e.g. under /tmp)")
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise SetupError(f"{path} exists and is not a socket", "remove it or pass another --socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:  # a file, but nobody behind it: a crashed server's
            os.unlink(path)
            trace.state(f"stale socket {path} (connect refused): removed")
        else:
            raise SetupError(f"a server is already listening on {path}",
                             "attach to it, stop it first, or pass another --socket")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the file is born 0600: no moment when others may connect
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)
    listener.listen(64)
    listener.setblocking(False)
    return listener


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, from the kernel (SO_PEERCRED, unix(7)).

    They are the credentials the peer had when it called ``connect()``; the
    peer cannot forge them, which is what makes them usable for authorisation.
    """
    ucred = struct.Struct("3i")  # struct ucred: pid, uid, gid
    return ucred.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, ucred.size))
