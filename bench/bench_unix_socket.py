"""unix_socket benchmark: the same framed protocol over a Unix socket and over TCP loopback, same run.

    make bench-unix_socket          (or: python bench/bench_unix_socket.py [--quick])

One echo process (``bench_unix_socket_echo.py``) serves both transports with
the same code, so the only difference is the socket family:

1. Round trips: a 32-byte INPUT frame, the OUTPUT frame back, one at a time,
   from one blocking client (a terminal's keystroke and its echo).
2. Throughput: 64 KiB INPUT frames sent back to back, then LIST; the clock
   stops when the SESSIONS answer says every byte arrived.
3. For scale, a keystroke through the real session server: INPUT ``x`` to a
   session running ``cat`` on a raw-mode pty, until its OUTPUT comes back
   (socket, server, pty, cat, pty, server, socket).

Rounds alternate Unix and TCP; the median of each is printed with the ratio.
The TCP side is the anchor (bench/README.md: report the ratio and why).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from learn_unix_socket.client import SessionClient
from learn_unix_socket.frames import FrameParser, FrameType, serialize
from wirelab_common.bench_report import report
from wirelab_common.processes import start_process

HERE = Path(__file__).resolve().parent


def connect(kind: str, path: str, port: int) -> socket.socket:
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    else:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_frame(sock: socket.socket, parser: FrameParser, pending: list) -> object:
    while not pending:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the echo peer closed")
        pending.extend(parser.feed(data))
    return pending.pop(0)


def round_trips(sock: socket.socket, count: int) -> float:
    parser, pending = FrameParser(), []
    frame = serialize(FrameType.INPUT, b"x" * 32)
    start = time.perf_counter()
    for _ in range(count):
        sock.sendall(frame)
        read_frame(sock, parser, pending)
    return count / (time.perf_counter() - start)


def throughput(sock: socket.socket, megabytes: int) -> float:
    parser, pending = FrameParser(), []
    chunk = serialize(FrameType.INPUT, b"y" * 65536)
    frames = megabytes * 16
    start = time.perf_counter()
    for _ in range(frames):
        sock.sendall(chunk)
    sock.sendall(serialize(FrameType.LIST))
    answer = read_frame(sock, parser, pending)
    elapsed = time.perf_counter() - start
    assert int(answer.payload) >= frames * 65536, answer  # every byte arrived
    return frames * 65536 / elapsed / 2**20


def keystrokes(path: str, count: int) -> float:
    """Round trips of one byte through the session server and a pty running cat."""
    with SessionClient(path) as client:
        client.attach("bench", ["sh", "-c", "stty raw -echo; echo ready; exec cat"])
        client.read_until(b"ready")
        start = time.perf_counter()
        for _ in range(count):
            client.type(b"x")
            echoed = 0
            while not echoed:  # until cat's "x" is back in an OUTPUT frame
                client._read(client.timeout)
                while client.frames:
                    frame = client.frames.pop(0)
                    echoed += len(frame.payload) if frame.type is FrameType.OUTPUT else 0
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    rounds, count, megabytes = (3, 2000, 64) if args.quick else (5, 20000, 512)
    with tempfile.TemporaryDirectory(prefix="wirelab-bench-ux-") as tmp:
        path = os.path.join(tmp, "echo.sock")
        with start_process([sys.executable, str(HERE / "bench_unix_socket_echo.py"), path],
                           name="echo", ready_line=r"^ready \d+") as echo:
            port = int(echo.wait_line(r"^ready (\d+)", 0).group(1))
            results: dict[tuple[str, str], list[float]] = {}
            for _ in range(rounds):
                for kind in ("unix", "tcp"):
                    with connect(kind, path, port) as sock:
                        results.setdefault(("rt", kind), []).append(round_trips(sock, count))
                    with connect(kind, path, port) as sock:
                        results.setdefault(("mb", kind), []).append(throughput(sock, megabytes))
        server = start_process([sys.executable, "-m", "learn_unix_socket.server", "--socket",
                                os.path.join(tmp, "run", "s"), "-q"], name="server",
                               ready_line=r"listening on unix:")
        with server:
            through = statistics.median(keystrokes(os.path.join(tmp, "run", "s"), count // 4)
                                        for _ in range(rounds))
    med = {key: statistics.median(values) for key, values in results.items()}
    print(f"# the session protocol's frames, one echo process, {rounds} rounds alternating (median)")
    print(f"round trips, 32 B, 1 client, {count} per round")
    print(f"  Unix socket           {med['rt', 'unix']:>10.0f} rt/s")
    print(f"  TCP 127.0.0.1 (anchor){med['rt', 'tcp']:>10.0f} rt/s")
    print(f"  unix / tcp    x{med['rt', 'unix'] / med['rt', 'tcp']:.2f}  (target: report the ratio)")
    print(f"throughput, 64 KiB frames, {megabytes} MiB per round")
    print(f"  Unix socket           {med['mb', 'unix']:>10.0f} MiB/s")
    print(f"  TCP 127.0.0.1 (anchor){med['mb', 'tcp']:>10.0f} MiB/s")
    print(f"  unix / tcp    x{med['mb', 'unix'] / med['mb', 'tcp']:.2f}  (target: report the ratio)")
    print(f"keystroke through the session server (pty + cat), {count // 4} per round")
    ratio = through / med["rt", "unix"]
    print(f"  Unix socket + pty     {through:>10.0f} rt/s  (x{ratio:.2f} of the bare frames)")
    report("unix_socket", "round trips, 32 B", med["rt", "unix"] / med["rt", "tcp"], None,
           anchor="the same frames over TCP 127.0.0.1")
    report("unix_socket", "throughput, 64 KiB frames", med["mb", "unix"] / med["mb", "tcp"], None,
           anchor="the same frames over TCP 127.0.0.1")


if __name__ == "__main__":
    main()
