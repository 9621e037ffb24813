"""One session: a program on a real pseudo-terminal, owned by the server, not by any client.

Reading order: frames -> protocol -> **pty_session** -> server / client -> demo.

A pseudo-terminal is a pair: the *slave* side looks like a real terminal to
the program (it is its stdin, stdout, stderr and controlling terminal, so
``isatty()`` is true, line editing works, Ctrl-C becomes SIGINT), and the
*master* side is a file descriptor the server reads the program's output from
and writes keystrokes to.  ``pty.fork()`` makes the pair and forks; the child
becomes a session leader with the slave as its controlling terminal (what
``forkpty(3)`` does for tmux), then runs the command.

Why sessions outlive clients: the master descriptor belongs to the server
process.  A client is only a viewer; when its connection drops nothing
happens to the terminal, so the program keeps running and writing, and
everything it writes is kept (the last :data:`SCROLLBACK` bytes in memory,
all of it in the session's log file) for the next client to see.

Resizing: ``TIOCSWINSZ`` on the master sets the terminal's rows and columns,
and the kernel sends SIGWINCH to the terminal's foreground process group when
the size changed; full-screen programs redraw on it.  tmux keeps a model of
every screen and repaints a new client from it; this server keeps bytes only,
so after an attach it sends SIGWINCH itself (:meth:`Session.redraw`) and lets
the program repaint.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import pty
import signal
import struct
import termios
from collections.abc import Callable, Sequence

SCROLLBACK = 32 * 1024  # bytes replayed to a client that attaches (fits one OUTPUT frame)
READ_SIZE = 16 * 1024
REAP_RETRY = 0.05  # seconds between waitpid() tries after the terminal closed
WINSIZE = struct.Struct("HHHH")  # struct winsize: rows, cols, xpixel, ypixel (native order)


class Session:
    """A running program on a pty; ``on_output(bytes)`` and ``on_exit(status)`` report to the server."""

    def __init__(self, name: str, command: Sequence[str], rows: int, cols: int, log_path: str,
                 on_output: Callable[[Session, bytes], None],
                 on_exit: Callable[[Session, int], None]) -> None:
        self.name = name
        self.command = tuple(command)
        self.rows, self.cols = rows, cols
        self.log_path = log_path
        self.on_output, self.on_exit = on_output, on_exit
        self.scrollback = bytearray()
        self.clients: set[object] = set()  # the server's client objects attached here
        self.exit_status: int | None = None
        self._pending = bytearray()  # keystrokes the terminal has no room for yet
        self._loop = asyncio.get_running_loop()
        # The log: created 0600, appended to by the server only; handed out read-only (LOG).
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC,
                              0o600)
        env = {**os.environ, "TERM": "xterm-256color", "WIRELAB_SESSION": name}
        pid, master = pty.fork()
        if pid == 0:  # the child: the slave is now fds 0-2 and the controlling terminal
            try:
                os.execvpe(self.command[0], self.command, env)
            finally:
                os._exit(127)  # exec failed: never return into the server's code in the child
        self.pid, self.master = pid, master
        os.set_blocking(master, False)
        self.resize(rows, cols)
        self._loop.add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: every slave descriptor is closed, the program is gone
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._loop.remove_reader(self.master)
            self._reap()
            return
        self.scrollback += data
        del self.scrollback[:-SCROLLBACK]
        os.write(self.log_fd, data)
        self.on_output(self, data)

    def _reap(self) -> None:
        """Collect the child's exit status; the terminal may close a moment before the process ends."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            self._loop.call_later(REAP_RETRY, self._reap)
            return
        self.exit_status = os.waitstatus_to_exitcode(status)
        self._close_fds()
        self.on_exit(self, self.exit_status)

    def write(self, data: bytes) -> None:
        """Keystrokes for the program; what the terminal cannot take now is kept and sent later."""
        if self.exit_status is not None:
            return
        if self._pending:
            self._pending += data
            return
        try:
            sent = os.write(self.master, data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._pending += data[sent:]
            self._loop.add_writer(self.master, self._writable)

    def _writable(self) -> None:
        try:
            sent = os.write(self.master, self._pending)
        except BlockingIOError:
            return
        except OSError:  # the program is gone: its keystrokes have nowhere to go
            sent = len(self._pending)
        del self._pending[:sent]
        if not self._pending:
            self._loop.remove_writer(self.master)

    def resize(self, rows: int, cols: int) -> None:
        """TIOCSWINSZ: the kernel sends SIGWINCH to the foreground program if the size changed."""
        self.rows, self.cols = rows, cols
        if self.exit_status is None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, WINSIZE.pack(rows, cols, 0, 0))

    def redraw(self) -> None:
        """SIGWINCH to the foreground process group: "repaint", for a client that just attached."""
        try:
            os.killpg(os.tcgetpgrp(self.master), signal.SIGWINCH)
        except OSError:
            pass  # the program exited meanwhile: nothing to repaint

    def terminate(self) -> None:
        """Hang up, as a terminal that goes away does: SIGHUP to the session's processes."""
        if self.exit_status is None:
            try:
                os.killpg(self.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    def _close_fds(self) -> None:
        if self._pending:
            self._loop.remove_writer(self.master)
            self._pending.clear()
        os.close(self.master)
        os.close(self.log_fd)

    def describe(self) -> str:
        return f"{self.name} pid={self.pid} clients={len(self.clients)} size={self.rows}x{self.cols}"
