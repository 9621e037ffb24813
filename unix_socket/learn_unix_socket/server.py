"""The session server: a daemon on a Unix socket that owns terminals, and clients that come and go.

Reading order: frames -> protocol -> pty_session -> runtime -> **server** / client -> demo.

The shape is tmux's: one server process owns every session (a program on a
pseudo-terminal, ``pty_session.py``); clients connect to its Unix socket,
attach to a session, send keystrokes and receive what the terminal writes;
when a client detaches or dies, the session goes on.  Every client attached
to one session receives the same OUTPUT frames, so they see the same screen.

Per connection, the server

1. asks the kernel who is calling (``SO_PEERCRED``: pid, uid, gid) and
   refuses any uid it was not told to allow (by default only its own);
2. feeds the bytes it reads to a ``protocol.ServerConnection`` and carries
   out the requests that come back (attach, input, resize, list, log);
3. writes frames through one queue per client, so a slow reader never
   stalls the terminal or the other clients (it is dropped past
   :data:`MAX_QUEUED` bytes instead);
4. for LOG, sends the session's log as an open, read-only file descriptor
   beside a LOG_FD frame (``SCM_RIGHTS``): the client reads it without
   opening the file by its path, which it may not be allowed to do.

A malformed or oversized frame, a request out of order, or a client killed
mid-frame costs that client its connection and nothing else.

Run it::

    python -m learn_unix_socket.server                       # socket in /tmp/wirelab-sessions-UID/
    python -m learn_unix_socket.server --socket /tmp/s.sock -v

It prints ``= server   listening on unix:PATH`` once it accepts connections.
The ``--no-...`` switches turn off one mechanism each, for the demo's checks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
from collections.abc import Sequence

from wirelab_common.errors import run_main
from wirelab_common.server_cli import add_verbosity, announce
from wirelab_common.wiretrace import Trace, hexdump, shorten

from .frames import FrameError, FrameType, serialize
from .protocol import (
    AskLog,
    Attach,
    Detach,
    Input,
    ListSessions,
    ProtocolError,
    Resize,
    ServerConnection,
    describe,
)
from .pty_session import Session
from .runtime import bind_unix, default_socket_path, peer_credentials, private_dir

MAX_QUEUED = 1024 * 1024  # bytes waiting for one client before it is dropped as too slow
STOP_GRACE = 2.0  # seconds sessions get after SIGHUP before SIGKILL, at shutdown


class Client:
    """One connection: its socket, its protocol state, its outgoing queue."""

    def __init__(self, number: int, sock: socket.socket, trace: Trace) -> None:
        self.number = number
        self.sock = sock
        self.trace = trace
        self.conn = ServerConnection()
        self.session: Session | None = None
        self.queue: asyncio.Queue[tuple[bytes, list[int]] | None] = asyncio.Queue()
        self.queued = 0
        self.dropped = False
        self.pid = self.uid = self.gid = -1

    def send(self, frame_type: FrameType, payload: bytes = b"", fds: Sequence[int] = ()) -> None:
        if self.dropped:
            for fd in fds:
                os.close(fd)
            return
        wire = serialize(frame_type, payload)
        if frame_type is not FrameType.OUTPUT or self.trace.verbose:
            summary = f"{frame_type.name} {shorten(payload, 60)}" if payload else frame_type.name
            extra = [f"+ SCM_RIGHTS {list(fds)}"] if fds else []
            self.trace.sent(summary, [hexdump(wire), *extra])  # -v: the header bytes, then the payload's
        self.queued += len(payload)
        self.queue.put_nowait((wire, list(fds)))
        if self.queued > MAX_QUEUED:
            # Too slow: hang up rather than hold its output or stall the session.  shutdown()
            # ends both the read in handle() (b"") and a send stuck in the writer (EPIPE).
            self.dropped = True
            self.trace.state(f"dropped: {self.queued} bytes queued, the client reads too slowly")
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone


class SessionServer:
    def __init__(self, socket_path: str, trace: Trace, *, allowed_uids: Sequence[int] = (),
                 persist: bool = True, check_peer: bool = True, pass_fds: bool = True,
                 socket_mode: int = 0o600) -> None:
        self.socket_path = socket_path
        self.socket_mode = socket_mode
        self.trace = trace
        self.allowed_uids = {os.getuid(), *allowed_uids}
        self.persist, self.check_peer, self.pass_fds = persist, check_peer, pass_fds
        self.sessions: dict[str, Session] = {}  # by name: the ones clients can attach to
        self.running: set[Session] = set()  # every program not yet reaped, hung-up ones included
        self.clients: set[Client] = set()
        self._count = 0
        self._tasks: set[asyncio.Task] = set()
        self.listener: socket.socket | None = None

    async def serve(self) -> None:
        """Accept connections until cancelled."""
        self.listener = bind_unix(self.socket_path, self.trace, self.socket_mode)
        self._inode = os.stat(self.socket_path).st_ino
        announce(self.trace, f"unix:{self.socket_path}")
        loop = asyncio.get_running_loop()
        while True:
            sock, _ = await loop.sock_accept(self.listener)
            self._count += 1
            client = Client(self._count, sock, self.trace.child(f"c{self._count}"))
            task = loop.create_task(self.handle(client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def handle(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        writer = loop.create_task(self._write(client))
        self.clients.add(client)
        try:
            client.pid, client.uid, client.gid = peer_credentials(client.sock)
            client.trace.state(f"connected: pid={client.pid} uid={client.uid} gid={client.gid} (SO_PEERCRED)")
            if self.check_peer and client.uid not in self.allowed_uids:
                allowed = ", ".join(map(str, sorted(self.allowed_uids)))
                client.send(FrameType.ERROR, f"uid {client.uid} may not use this server "
                                             f"(allowed: {allowed})".encode())
                return
            while True:
                data = await loop.sock_recv(client.sock, 65536)
                if not data:
                    break
                try:
                    for request in client.conn.receive_data(data):
                        self.carry_out(client, request)
                except (FrameError, ProtocolError) as exc:
                    client.send(FrameType.ERROR, str(exc).encode())
                    return
        except (ConnectionError, OSError) as exc:
            client.trace.state(f"connection lost: {exc}")
        finally:
            self.leave(client)
            client.queue.put_nowait(None)  # flush what is queued (the ERROR), then close
            await asyncio.wait([writer], timeout=2.0)
            writer.cancel()
            client.sock.close()
            self.clients.discard(client)
            client.trace.state("closed")

    async def _write(self, client: Client) -> None:
        """The client's frames, in order; a file descriptor rides on the first byte of its frame."""
        loop = asyncio.get_running_loop()
        try:
            while (item := await client.queue.get()) is not None:
                data, fds = item
                client.queued -= len(data) - 5
                try:
                    if fds:
                        sent = await self._send_fds(client.sock, data, fds)
                        data = data[sent:]
                    if data:
                        await loop.sock_sendall(client.sock, data)
                finally:
                    for fd in fds:  # the kernel copied it into the message (or it never went): ours goes
                        os.close(fd)
        except OSError:
            pass  # the client is gone; handle() notices on its next read
        finally:
            while not client.queue.empty():  # descriptors of frames never sent must not leak
                item = client.queue.get_nowait()
                for fd in item[1] if item else ():
                    os.close(fd)

    async def _send_fds(self, sock: socket.socket, data: bytes, fds: list[int]) -> int:
        """sendmsg() with SCM_RIGHTS, waiting for room if the socket buffer is full."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return socket.send_fds(sock, [data], fds)
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(sock.fileno(), ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(sock.fileno())

    def carry_out(self, client: Client, request: object) -> None:
        client.trace.received(describe(request))
        if isinstance(request, Attach):
            self.attach(client, request)
        elif isinstance(request, Input):
            assert client.session is not None
            client.session.write(request.data)
        elif isinstance(request, Resize):
            assert client.session is not None
            client.session.resize(request.rows, request.cols)
            client.trace.state(f"{client.session.name}: TIOCSWINSZ {request.rows}x{request.cols} (SIGWINCH)")
        elif isinstance(request, Detach):
            self.leave(client)
            client.send(FrameType.DETACHED)
        elif isinstance(request, ListSessions):
            client.send(FrameType.SESSIONS, "\n".join(s.describe() for s in self.sessions.values()).encode())
        elif isinstance(request, AskLog):
            self.send_log(client, request.name or (client.session.name if client.session else ""))

    def attach(self, client: Client, request: Attach) -> None:
        session = self.sessions.get(request.name)
        if session is None:
            if not request.command:
                client.conn.attach_failed()
                why = f"no session {request.name!r} (send a command to create it)"
                client.send(FrameType.ERROR, why.encode())
                return
            log_path = os.path.join(os.path.dirname(self.socket_path), f"{request.name}.log")
            session = Session(request.name, request.command, request.rows, request.cols, log_path,
                              self.on_output, self.on_exit)
            self.sessions[request.name] = session
            self.running.add(session)
            self.trace.state(f"session {request.name} started: pid {session.pid} {' '.join(request.command)}")
        client.session = session
        session.clients.add(client)
        client.send(FrameType.ATTACHED, session.name.encode())
        if session.scrollback:
            client.send(FrameType.OUTPUT, bytes(session.scrollback))  # what happened while nobody watched
        session.resize(request.rows, request.cols)
        session.redraw()

    def leave(self, client: Client) -> None:
        session, client.session = client.session, None
        if session is None:
            return
        session.clients.discard(client)
        if not session.clients and not self.persist and session.exit_status is None:
            self.trace.state(f"session {session.name}: last client left, --no-persistence: SIGHUP")
            del self.sessions[session.name]  # gone for new clients now, not when the program has exited
            session.terminate()

    def on_output(self, session: Session, data: bytes) -> None:
        for client in session.clients:
            client.send(FrameType.OUTPUT, data)

    def on_exit(self, session: Session, status: int) -> None:
        self.trace.state(f"session {session.name} exited with status {status}")
        self.running.discard(session)
        if self.sessions.get(session.name) is session:  # not a new session of the same name
            del self.sessions[session.name]
        for client in list(session.clients):
            client.session = None
            client.conn.session_exited()
            client.send(FrameType.EXITED, str(status).encode())
        session.clients.clear()

    def send_log(self, client: Client, name: str) -> None:
        session = self.sessions.get(name)
        if session is None:
            client.send(FrameType.ERROR, f"no session {name!r}".encode())
            return
        fd = os.open(session.log_path, os.O_RDONLY | os.O_CLOEXEC)  # read-only: that is what travels
        if not self.pass_fds:
            os.close(fd)
        # The writer closes our copy once sendmsg() ran: the kernel put its own in the message.
        client.send(FrameType.LOG_FD, session.log_path.encode(), [fd] if self.pass_fds else [])

    async def close(self) -> None:
        """Stop accepting, hang up every session, close every client, remove our socket file."""
        if self.listener is not None:
            self.listener.close()
            try:
                if os.stat(self.socket_path).st_ino == self._inode:  # never unlink another server's
                    os.unlink(self.socket_path)
            except FileNotFoundError:
                pass
        for session in list(self.running):
            session.terminate()
        for _ in range(int(STOP_GRACE / 0.05)):
            if not self.running:
                break
            await asyncio.sleep(0.05)
        for session in list(self.running):  # ignored SIGHUP: no more asking
            try:
                os.killpg(session.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_unix_socket.server",
                                     description="The session server: terminals that outlive their clients.")
    parser.add_argument("--socket", metavar="PATH", default=None,
                        help="the Unix socket (default: a private runtime directory, see runtime.py)")
    parser.add_argument("--allow-uid", type=int, action="append", default=[],
                        help="another uid allowed in (SO_PEERCRED); by default only the server's own")
    parser.add_argument("--socket-mode", type=lambda text: int(text, 8), default=0o600, metavar="OCTAL",
                        help="the socket file's mode (default 600; 666 leaves only SO_PEERCRED as a lock)")
    parser.add_argument("--no-persistence", action="store_true",
                        help="hang up a session when its last client leaves (what happens without a server)")
    parser.add_argument("--no-peercred", action="store_true", help="let any uid in (no SO_PEERCRED check)")
    parser.add_argument("--no-fd-passing", action="store_true",
                        help="answer LOG without the descriptor (no SCM_RIGHTS)")
    add_verbosity(parser)  # -v -q --trace-file, as every wirelab program
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    trace = Trace("server", verbose=args.verbose, quiet=args.quiet)
    path = args.socket or default_socket_path()
    if args.socket is None or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        private_dir(os.path.dirname(os.path.abspath(path)))
    server = SessionServer(path, trace, allowed_uids=args.allow_uid, persist=not args.no_persistence,
                           check_peer=not args.no_peercred, pass_fds=not args.no_fd_passing,
                           socket_mode=args.socket_mode)
    loop = asyncio.get_running_loop()
    serving = loop.create_task(server.serve())
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await asyncio.wait([serving, loop.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()  # a SetupError from bind: raise it
    trace.state(f"shutting down: {len(server.sessions)} session(s), {len(server.clients)} client(s)")
    serving.cancel()
    await server.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
