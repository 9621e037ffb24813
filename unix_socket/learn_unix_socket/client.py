"""The client: a library (:class:`SessionClient`) and a command that attaches your terminal to a session.

Reading order: frames -> protocol -> pty_session -> runtime -> server / **client** -> demo.

The library is deliberately plain, blocking code on one socket: connect,
send a request, read frames until the answer comes.  OUTPUT frames that
arrive meanwhile are kept in :attr:`SessionClient.output`, so a caller can
wait for text with :meth:`SessionClient.read_until`.  Reads use
``recvmsg()`` rather than ``recv()``, because a LOG_FD frame carries a file
descriptor as ancillary data (``SCM_RIGHTS``); ``recv()`` would make the
kernel discard it.

The command is what a person types::

    python -m learn_unix_socket.client attach work -- bash    # create 'work' if new, and attach
    python -m learn_unix_socket.client attach work            # reattach; Ctrl-] detaches
    python -m learn_unix_socket.client list
    python -m learn_unix_socket.client log work               # the log, read through a passed descriptor

Attached from a real terminal, the client puts it in raw mode (every key goes
to the session as typed, Ctrl-C included: it is the session's program that
must receive it), sends its size, and sends RESIZE when its own window gets
SIGWINCH.  Ctrl-] (0x1d, telnet's escape) detaches.
"""

from __future__ import annotations

import argparse
import array
import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import termios
import time
import tty
from collections.abc import Sequence

from wirelab_common.errors import CheckFailed, SetupError, run_main
from wirelab_common.wiretrace import Trace, hexdump, shorten

from .frames import Frame, FrameParser, FrameType
from .protocol import AskLog, Attach, Detach, Input, ListSessions, Request, Resize, describe, encode_request
from .runtime import default_socket_path

DETACH_KEY = b"\x1d"  # Ctrl-]
MAX_FDS = 4  # room for this many descriptors in one read's ancillary data


class ServerError(Exception):
    """The server answered ERROR (its text is the message)."""


class Disconnected(Exception):
    """The server closed the connection."""


class SessionClient:
    """One connection to the session server (blocking, with a timeout on every wait)."""

    def __init__(self, path: str, trace: Trace | None = None, timeout: float = 5.0) -> None:
        self.trace = trace
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        self.fds: list[int] = []  # descriptors received, in order, not yet claimed by a LOG_FD frame
        self.output = bytearray()  # every OUTPUT payload, in order
        self.exit_status: int | None = None

    def send(self, request: Request) -> None:
        wire = encode_request(request)
        if self.trace:
            self.trace.sent(describe(request), [hexdump(wire)])  # -v: the frame's bytes
        try:
            self.sock.sendall(wire)
        except BrokenPipeError:
            # The server hung up first (it refuses a uid before reading anything): what it
            # said before closing is still ours to read, and says why.
            self.next_frame()
            raise Disconnected("the server closed the connection") from None

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        data, ancdata, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * 4))
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                self.fds.extend(fds)
        if not data:
            raise Disconnected("the server closed the connection")
        self.frames.extend(self.parser.feed(data))

    def next_frame(self, timeout: float | None = None) -> Frame:
        """The next frame that is not OUTPUT (OUTPUT is appended to :attr:`output` on the way)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while self.frames:
                frame = self.frames.pop(0)
                if self.trace and (frame.type is not FrameType.OUTPUT or self.trace.verbose):
                    self.trace.received(f"{frame.type.name} {shorten(frame.payload, 60)}")
                if frame.type is FrameType.OUTPUT:
                    self.output += frame.payload
                    continue
                if frame.type is FrameType.EXITED:
                    self.exit_status = int(frame.payload)
                if frame.type is FrameType.ERROR:
                    raise ServerError(frame.payload.decode(errors="replace"))
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from the server in time")
            self._read(remaining)

    def expect(self, frame_type: FrameType, timeout: float | None = None) -> Frame:
        frame = self.next_frame(timeout)
        if frame.type is not frame_type:
            raise ServerError(f"expected {frame_type.name}, got {frame}")
        return frame

    def attach(self, name: str, command: Sequence[str] = (), rows: int = 24, cols: int = 80) -> None:
        self.send(Attach(name, rows, cols, tuple(command)))
        self.expect(FrameType.ATTACHED)

    def detach(self) -> None:
        self.send(Detach())
        self.expect(FrameType.DETACHED)

    def type(self, text: str | bytes) -> None:
        self.send(Input(text.encode() if isinstance(text, str) else text))

    def resize(self, rows: int, cols: int) -> None:
        self.send(Resize(rows, cols))

    def read_until(self, needle: bytes, timeout: float | None = None) -> bytes:
        """Read until ``needle`` is in :attr:`output`; return the output so far."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for frame in [f for f in self.frames if f.type is FrameType.OUTPUT]:
                self.output += frame.payload
                self.frames.remove(frame)
            if needle in self.output:
                return bytes(self.output)
            if self.frames:  # EXITED, ERROR...: let next_frame() report it
                raise ServerError(f"{self.next_frame(0)} came while waiting for {needle!r}")
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                self._read(remaining)
            except TimeoutError:
                raise TimeoutError(f"{needle!r} did not appear; the last output was "
                                   f"{bytes(self.output[-200:])!r}") from None

    def list(self) -> list[str]:
        self.send(ListSessions())
        return [line for line in self.expect(FrameType.SESSIONS).payload.decode().splitlines() if line]

    def log_fd(self, name: str = "") -> tuple[str, int]:
        """The log's path, and an open descriptor for it that the server passed (SCM_RIGHTS)."""
        self.send(AskLog(name))
        frame = self.expect(FrameType.LOG_FD)
        if not self.fds:
            raise CheckFailed("the LOG_FD frame came without a file descriptor (no SCM_RIGHTS data)")
        return frame.payload.decode(), self.fds.pop(0)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        self.sock.close()

    def __enter__(self) -> SessionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def window_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows or 24, cols or 80


def attach_terminal(client: SessionClient, name: str, command: Sequence[str]) -> str:
    """Relay this terminal to the session until detach, exit or hang-up; return why it ended."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    interactive = os.isatty(stdin)
    rows, cols = window_size(stdin) if interactive else (24, 80)
    wake_r, wake_w = socket.socketpair()  # SIGWINCH -> a byte here -> RESIZE from the main loop
    wake_w.setblocking(False)
    saved = termios.tcgetattr(stdin) if interactive else None
    old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGWINCH, lambda *_: None)  # a handler, so the wakeup byte is written
    selector = selectors.DefaultSelector()
    try:
        client.attach(name, command, rows, cols)
        if interactive:
            tty.setraw(stdin)
        os.write(stdout, bytes(client.output))
        client.output.clear()
        client.sock.setblocking(True)
        selector.register(client.sock, selectors.EVENT_READ, "server")
        try:
            selector.register(stdin, selectors.EVENT_READ, "keys")
        except PermissionError:  # /dev/null or a file: nothing to type, just watch
            pass
        selector.register(wake_r, selectors.EVENT_READ, "signal")
        while True:
            # Frames already parsed come first: ATTACHED and the replayed OUTPUT often share one read.
            while client.frames:
                frame = client.frames.pop(0)
                if frame.type is FrameType.OUTPUT:
                    os.write(stdout, frame.payload)
                elif frame.type is FrameType.EXITED:
                    return f"[{name} exited with status {frame.payload.decode()}]"
                elif frame.type is FrameType.ERROR:
                    return f"[error: {frame.payload.decode(errors='replace')}]"
            for key, _ in selector.select():
                if key.data == "signal":
                    wake_r.recv(64)
                    if interactive:
                        client.resize(*window_size(stdin))
                elif key.data == "keys":
                    keys = os.read(stdin, 4096)
                    if not keys:  # stdin closed (a pipe): keep watching the session
                        selector.unregister(stdin)
                    elif DETACH_KEY in keys and interactive:
                        client.type(keys.split(DETACH_KEY, 1)[0])
                        client.detach()
                        return f"[detached from {name}]"
                    else:
                        client.type(keys)
                else:
                    try:
                        client._read(client.timeout)  # the frames are shown at the top of the loop
                    except Disconnected:
                        return "[the server closed the connection]"
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSAFLUSH, saved)
        signal.set_wakeup_fd(old_wakeup)
        selector.close()
        wake_r.close()
        wake_w.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_unix_socket.client",
                                     description="Attach to, list and read sessions of the session server.")
    parser.add_argument("--socket", metavar="PATH", default=None, help="the server's socket")
    parser.add_argument("-v", "--verbose", action="store_true", help="trace frames (list and log)")
    sub = parser.add_subparsers(dest="command", required=True)
    attach = sub.add_parser("attach", help="attach this terminal (Ctrl-] detaches)")
    attach.add_argument("name")
    attach.add_argument("program", nargs=argparse.REMAINDER, help="-- COMMAND...: create the session if new")
    sub.add_parser("list", help="the sessions")
    log = sub.add_parser("log", help="print a session's log, read through a descriptor the server passes")
    log.add_argument("name")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    path = args.socket or default_socket_path()
    trace = Trace("client", verbose=args.verbose)
    try:
        client = SessionClient(path, trace=None if args.command == "attach" else trace)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise SetupError(f"no server at {path} ({exc.strerror})",
                         "start one: python -m learn_unix_socket.server") from None
    with client:
        try:
            if args.command == "list":
                for line in client.list():
                    print(line)
            elif args.command == "log":
                log_path, fd = client.log_fd(args.name)
                with os.fdopen(fd, "rb") as log:
                    sys.stdout.buffer.write(log.read())
                sys.stdout.flush()
            else:
                program = args.program[1:] if args.program[:1] == ["--"] else args.program
                print(attach_terminal(client, args.name, program), file=sys.stderr)
        except ServerError as exc:
            raise CheckFailed(f"the server refused: {exc}") from None


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
