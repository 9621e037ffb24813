"""The three Unix socket types side by side: what each keeps and what each loses (unix(7)).

Reading order: read this first, or beside ``frames.py``: it is why frames exist.

Each example sends the same two messages, ``b"one"`` then ``b"two"``, before
the receiver reads anything, and reports what the receiver's reads return:

- ``SOCK_STREAM``: a byte stream with a connection, like TCP.  The two sends
  arrive as one read, ``b"onetwo"``: message boundaries are lost, which is why
  the session protocol puts a length in front of every frame (``frames.py``).
- ``SOCK_DGRAM``: datagrams without a connection, like UDP, but on one host
  nothing is dropped or reordered (a full receiver makes the sender wait
  instead).  Two reads, ``b"one"`` and ``b"two"``: boundaries are kept.  A
  read with a buffer smaller than the datagram loses the rest of it
  (``MSG_TRUNC`` says so).
- ``SOCK_SEQPACKET``: both: a connection (``accept()``, and an end-of-file
  when the peer closes) and kept boundaries.

Each runs twice: on a *path* (a socket file appears in the directory, guarded
by its permissions, and stays after close until someone unlinks it) and in
the Linux *abstract namespace* (an address that starts with a NUL byte: no
file, no permissions, gone when the last socket closes; anyone who knows the
name can connect, so the server must check who connected, see ``SO_PEERCRED``).

Run it::

    python -m learn_unix_socket.socket_types
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from wirelab_common.errors import run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

MESSAGES = (b"one", b"two")
TYPES = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM, "seqpacket": socket.SOCK_SEQPACKET}


@dataclass(frozen=True)
class Outcome:
    kind: str
    address: str  # the path, or "@name" for an abstract address (as ss(8) prints it)
    reads: tuple[bytes, ...]  # what each read returned, until the messages were all in
    file_appeared: bool  # did bind() create a file in the file system?
    truncated: bool | None  # a 2-byte read of a 3-byte message lost the rest (datagrams only)
    eof_on_close: bool | None  # did a read return b"" when the sender closed? (connections only)


def _read_all(sock: socket.socket, total: int) -> tuple[bytes, ...]:
    reads, got = [], 0
    while got < total:
        data = sock.recv(4096)
        reads.append(data)
        got += len(data)
    return tuple(reads)


def run_example(kind: str, address: str | bytes) -> Outcome:
    """Send MESSAGES over a fresh pair of ``kind`` sockets at ``address`` and see how they arrive."""
    sock_type = TYPES[kind]
    shown = "@" + address[1:].decode() if isinstance(address, bytes) else address
    receiver = socket.socket(socket.AF_UNIX, sock_type)
    sender = socket.socket(socket.AF_UNIX, sock_type)
    conn: socket.socket | None = None
    try:
        receiver.settimeout(5.0)
        receiver.bind(address)
        appeared = isinstance(address, str) and os.path.exists(address)
        if sock_type == socket.SOCK_DGRAM:
            for message in MESSAGES:
                sender.sendto(message, address)
            reads = tuple(receiver.recv(4096) for _ in MESSAGES)
            sender.sendto(b"abc", address)
            _, _, flags, _ = receiver.recvmsg(2)
            return Outcome(kind, shown, reads, appeared, bool(flags & socket.MSG_TRUNC), None)
        receiver.listen(1)
        sender.connect(address)
        conn, _ = receiver.accept()
        conn.settimeout(5.0)
        for message in MESSAGES:
            sender.sendall(message)
        reads = _read_all(conn, sum(map(len, MESSAGES)))
        sender.close()
        return Outcome(kind, shown, reads, appeared, None, conn.recv(4096) == b"")
    finally:
        for sock in (sender, receiver, conn):
            if sock is not None:
                sock.close()
        if isinstance(address, str) and os.path.lexists(address):
            os.unlink(address)  # closing a socket never removes its file: the program must


def all_examples(folder: str) -> list[Outcome]:
    """Every type on a path under ``folder`` and at an abstract address (unique per process)."""
    outcomes = []
    for kind in TYPES:
        outcomes.append(run_example(kind, os.path.join(folder, f"{kind}.sock")))
        outcomes.append(run_example(kind, f"\0wirelab-{kind}-{os.getpid()}".encode()))
    return outcomes


def show(outcome: Outcome, trace: Trace) -> None:
    reads = " + ".join(repr(r) for r in outcome.reads)
    trace.state(f"{outcome.kind:<9} {outcome.address}: {len(outcome.reads)} read(s): {reads}")
    trace.note(f"  file in the file system: {'yes' if outcome.file_appeared else 'no'}")
    if outcome.truncated is not None:
        cut = "truncated (MSG_TRUNC)" if outcome.truncated else "whole"
        trace.note(f"  a 2-byte read of a 3-byte datagram: {cut}")
    if outcome.eof_on_close is not None:
        trace.note(f"  end-of-file when the sender closed: {'yes' if outcome.eof_on_close else 'no'}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_unix_socket.socket_types",
                                     description="SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET side by side.")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    trace = Trace("types", verbose=args.verbose, quiet=args.quiet)

    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="wirelab-types-") as folder:
            for outcome in all_examples(folder):
                show(outcome, trace)

    run_main(run)


if __name__ == "__main__":
    main()
