"""Trying the server as another user: what the file system stops, what SO_PEERCRED stops, what an fd carries.

Reading order: runtime -> server -> **credentials** -> demo.

Two locks guard the session server.  The first is the file system: the
socket is a file in a 0700 directory, so another user's ``connect()`` fails
with EACCES before the server hears of it.  The second is the server's own:
``SO_PEERCRED`` tells it the uid of whoever connected, which the peer cannot
forge, and it refuses uids it does not know.  The second lock matters where
the first is absent: an abstract address (``socket_types.py``) has no file
and no permissions, and a socket someone made 0666 has none worth the name.

A descriptor passed with ``SCM_RIGHTS`` is a third thing: permission is
checked when a file is *opened*, so whoever holds an open descriptor can use
it in the way it was opened, whatever the file's mode says now or whoever
they are.  :func:`read_fd_as` shows it: a user who may not open the log by
its path reads it through the descriptor it was given.

The functions fork a child that drops to another uid (this needs root), does
one thing, reports through a pipe and exits; so the calling program never
changes who it is.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from .frames import FrameParser, FrameType, serialize


def _in_child_as(uid: int, gid: int, job: Any) -> dict[str, Any]:
    """Run ``job()`` in a forked child with ``uid``/``gid``; return the dict it produced."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges (group first, while we still may), do the job, report
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            result = job()
        except BaseException as exc:  # everything goes back to the parent as text
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data or b'{"error": "the child reported nothing"}')


def list_as(uid: int, gid: int, socket_path: str) -> dict[str, Any]:
    """Connect as ``uid`` and send LIST: ``{"errno": ...}``, ``{"ERROR": text}`` or ``{"SESSIONS": text}``."""

    def job() -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)
        try:
            sock.connect(socket_path)
        except OSError as exc:
            return {"errno": exc.strerror}
        try:
            sock.sendall(serialize(FrameType.LIST))
        except BrokenPipeError:
            pass  # a refusing server may hang up before our request arrives; its ERROR is still here
        parser = FrameParser()
        while True:
            data = sock.recv(65536)
            if not data:
                return {"closed": True}
            for frame in parser.feed(data):
                return {frame.type.name: frame.payload.decode(errors="replace")}

    return _in_child_as(uid, gid, job)


def read_fd_as(uid: int, gid: int, fd: int, path: str) -> dict[str, Any]:
    """As ``uid``: try to open ``path`` by name, then read through the inherited descriptor ``fd``."""

    def job() -> dict[str, Any]:
        try:
            os.close(os.open(path, os.O_RDONLY))
            by_path = "opened"
        except OSError as exc:
            by_path = exc.strerror
        os.lseek(fd, 0, os.SEEK_SET)
        return {"by_path": by_path, "through_fd": os.read(fd, 65536).decode(errors="replace")}

    return _in_child_as(uid, gid, job)
