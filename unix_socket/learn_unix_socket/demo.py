"""The unix_socket demo: ``make demo-unix_socket`` (``python -m learn_unix_socket.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

Four acts, each checked, so the demo is also a test:

1. **A session outlives its clients.**  The server starts in a private
   directory (0700, socket 0600).  alice creates a session running ``sh``
   and runs a command; bob attaches to the same session and both see the
   same output; both detach and the session is still listed.  A client
   process starts a slow loop and is killed with SIGKILL halfway; carol
   attaches and sees the loop finish: the program never noticed.
2. **Who may connect (SO_PEERCRED).**  As root, the demo tries the server as
   ``nobody``: the 0700 directory stops it (EACCES); then on a second server
   whose socket is 0666 in an open directory, the server itself refuses
   uid 65534 by its credentials.  Not root: the act shows the uid the server
   read and says what it skipped.
3. **Passing a descriptor (SCM_RIGHTS).**  alice asks for the session's log
   and receives an open, read-only descriptor: same inode as the 0600 file,
   the earlier output in it, writes refused.  As root, the descriptor is
   handed on to a ``nobody`` process, which cannot open the file by its path
   but reads it through the descriptor.
4. **Socket types.**  ``socket_types.py``: stream loses message boundaries,
   datagram and seqpacket keep them; abstract addresses leave no file.

Exit 0 when every check passed, 1 when one failed (with what went wrong).
``--act N`` runs one act.  Each switch turns one mechanism off, and the act
that shows it must then fail: ``--no-persistence`` (act 1: the server hangs
up a session when its last client leaves), ``--no-peercred`` (act 2: the
server lets any uid in), ``--no-fd-passing`` (act 3: LOG comes without
the descriptor).
"""

from __future__ import annotations

import argparse
import os
import select
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import IO

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.wiretrace import Trace

from .client import ServerError, SessionClient
from .credentials import list_as, read_fd_as
from .socket_types import all_examples, show

PY = sys.executable
READY = r"listening on unix:"
NOBODY = 65534  # Debian's nobody / nogroup
SHELL = ["sh", "-i"]


def start(socket_path: str, args: argparse.Namespace, *extra: str) -> ManagedProcess:
    argv = [PY, "-m", "learn_unix_socket.server", "--socket", socket_path, *extra]
    argv += ["-v"] if args.verbose else []
    return start_process(argv, name="server", ready_line=READY, echo=True)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def wait_for_output(pipe: IO[bytes], needle: bytes, timeout: float) -> bytes:
    """Read ``pipe`` until ``needle`` shows or ``timeout`` passes; return what was read."""
    seen, deadline = b"", time.monotonic() + timeout
    while needle not in seen and (remaining := deadline - time.monotonic()) > 0:
        if select.select([pipe], [], [], remaining)[0]:
            chunk = os.read(pipe.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


def act_sessions(trace: Trace, args: argparse.Namespace, sock: str) -> None:
    trace.banner("Act 1: a session outlives its clients")
    folder = os.path.dirname(sock)
    check(mode(folder) == 0o700, f"runtime directory {folder} is {mode(folder):04o}, not 0700")
    check(mode(sock) == 0o600, f"socket {sock} is {mode(sock):04o}, not 0600")
    trace.note(f"{folder} is 0700 and the socket 0600: only our uid can reach it")
    with SessionClient(sock, trace.child("alice")) as alice, SessionClient(sock, trace.child("bob")) as bob:
        alice.attach("work", SHELL)
        alice.type("echo hello-$((6*7))\n")  # the echo of the keys says $((6*7)); only the shell says 42
        alice.read_until(b"hello-42")
        trace.note("alice's command ran in the session's shell; now bob attaches to the same session")
        bob.attach("work")
        alice.type("echo together-$((100+1))\n")
        for viewer in (alice, bob):
            try:
                viewer.read_until(b"together-101")
            except TimeoutError:
                raise CheckFailed(f"{viewer.trace.actor if viewer.trace else 'a client'} did not see "
                                  "the shared screen") from None
        trace.note("both saw 'together-101': one terminal, two viewers")
        alice.detach()
        bob.detach()
        listed = alice.list()
    trace.note(f"both detached; the server lists: {listed}")
    check(any(line.startswith("work ") for line in listed),
          "session 'work' did not survive its clients detaching (the server hung it up)")
    trace.note("a client process attaches, types a slow loop, and is killed halfway (SIGKILL)")
    loop = b"i=0; while [ $i -lt 4 ]; do i=$((i+1)); echo tick-$i; sleep 0.3; done; echo finished-$((50+7))\n"
    killed = subprocess.Popen([PY, "-m", "learn_unix_socket.client", "--socket", sock, "attach", "work"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert killed.stdin is not None and killed.stdout is not None
        killed.stdin.write(loop)  # its stdin is a pipe: the client sends what it reads as INPUT
        killed.stdin.flush()
        seen = wait_for_output(killed.stdout, b"tick-1", timeout=10)
        check(b"tick-1" in seen, f"the client process never showed tick-1: {seen[-300:]!r}")
    finally:
        killed.kill()
        killed.wait(5)
        for pipe in (killed.stdin, killed.stdout):
            if pipe is not None:
                pipe.close()
    trace.note(f"client pid {killed.pid} saw tick-1 and was killed with SIGKILL mid-loop; carol attaches")
    try:
        with SessionClient(sock, trace.child("carol")) as carol:
            carol.attach("work")
            carol.read_until(b"finished-57", timeout=10)
    except ServerError as exc:
        raise CheckFailed(f"reattach failed: {exc}: the session died with its clients") from None
    trace.note("carol saw the loop finish: the session never noticed its client die")


def act_credentials(trace: Trace, args: argparse.Namespace, sock: str, tmp: str) -> None:
    trace.banner("Act 2: who may connect -- file permissions, then SO_PEERCRED")
    if os.getuid() != 0:
        with SessionClient(sock, trace.child("alice")) as alice:
            check(alice.list() is not None, "our own uid was refused")
        trace.note(f"not root: cannot act as another uid; the server read uid {os.getuid()} and let it in")
        return
    result = list_as(NOBODY, NOBODY, sock)
    trace.note(f"nobody (uid {NOBODY}) on the private socket: {result}")
    check(result.get("errno") == "Permission denied",
          f"nobody reached the private socket: {result} (the 0700 directory should stop it)")
    open_dir = os.path.join(tmp, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o755)
    open_sock = os.path.join(open_dir, "s")
    extra = ["--socket-mode", "666"] + (["--no-peercred"] if args.no_peercred else [])
    if args.no_peercred:
        trace.note("--no-peercred: the second server lets any uid in")
    with start(open_sock, args, *extra) as server:
        trace.note(f"a second server, socket {mode(open_sock):04o} in a 0755 directory: "
                   "only SO_PEERCRED is left")
        result = list_as(NOBODY, NOBODY, open_sock)
        trace.note(f"nobody (uid {NOBODY}) on the open socket: {result}")
        check("ERROR" in result and f"uid {NOBODY}" in result["ERROR"],
              f"the server let uid {NOBODY} in: {result} (it should refuse by SO_PEERCRED)")
        server.wait_line(rf"uid={NOBODY}", timeout=5)
    trace.note("refused by the server itself: the kernel told it who connected")


def act_fd_passing(trace: Trace, args: argparse.Namespace, sock: str) -> None:
    trace.banner("Act 3: passing a descriptor -- the session's log over SCM_RIGHTS")
    with SessionClient(sock, trace.child("alice")) as alice:
        path, fd = alice.log_fd("work")
        try:
            check(os.fstat(fd).st_ino == os.stat(path).st_ino, "the descriptor is not the log file")
            check(mode(path) == 0o600, f"the log {path} is {mode(path):04o}, not 0600")
            content = os.pread(fd, 1 << 20, 0)
            check(b"hello-42" in content, "the log read through the descriptor lacks act 1's output")
            trace.note(f"fd {fd} is {path} (same inode); it holds act 1's output ({len(content)} B)")
            try:
                os.write(fd, b"forged")
                raise CheckFailed("the passed descriptor accepted a write: it should be read-only")
            except OSError as exc:
                trace.note(f"a write through it fails ({exc.strerror}): the open mode travels with the fd")
            if os.getuid() == 0:
                result = read_fd_as(NOBODY, NOBODY, fd, path)
                trace.note(f"as nobody: open({path!r}) -> {result.get('by_path')}; "
                           f"read(fd) -> {len(result.get('through_fd', ''))} chars")
                through = result.get("through_fd", "")
                check(result.get("by_path") == "Permission denied" and "hello-42" in through,
                      f"nobody should fail to open the log but read it through the descriptor: {result}")
                trace.note("permission is checked at open(): whoever holds the descriptor can read")
        finally:
            os.close(fd)


def act_socket_types(trace: Trace, tmp: str) -> None:
    trace.banner("Act 4: stream, datagram, seqpacket -- on a path and in the abstract namespace")
    for outcome in all_examples(tmp):
        show(outcome, trace)
        kept = len(outcome.reads) == 2
        if outcome.kind == "stream":
            check(outcome.reads == (b"onetwo",), f"stream: expected one read b'onetwo', got {outcome.reads}")
        else:
            check(kept, f"{outcome.kind}: expected two reads, got {outcome.reads}")
        check(outcome.file_appeared == (not outcome.address.startswith("@")),
              f"{outcome.address}: a file {'appeared' if outcome.file_appeared else 'did not appear'}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_unix_socket.demo",
                                     description="Sessions that outlive clients, credentials, fd passing.")
    parser.add_argument("-v", "--verbose", action="store_true", help="every frame, output included")
    parser.add_argument("--act", type=int, choices=(1, 2, 3, 4), help="run one act only")
    parser.add_argument("--no-persistence", action="store_true",
                        help="act 1: sessions die with their clients")
    parser.add_argument("--no-peercred", action="store_true", help="act 2: no uid check in the server")
    parser.add_argument("--no-fd-passing", action="store_true", help="act 3: LOG without the descriptor")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose)
    acts = [args.act] if args.act else [1, 2, 3, 4]
    with tempfile.TemporaryDirectory(prefix="wirelab-ux-", dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)  # act 2's open socket lives in here; the private one in run/
        sock = os.path.join(tmp, "run", "default")  # the server makes run/ itself, 0700
        extra = [flag for flag in ("--no-persistence", "--no-fd-passing")
                 if getattr(args, flag[2:].replace("-", "_"))]
        with start(sock, args, *extra):
            if 1 in acts or 3 in acts:
                act_sessions(trace, args, sock)
            if 2 in acts:
                act_credentials(trace, args, sock, tmp)
            if 3 in acts:
                act_fd_passing(trace, args, sock)
        if 4 in acts:
            act_socket_types(trace, tmp)
    trace.note(f"all acts checked ({', '.join(map(str, acts))})")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
