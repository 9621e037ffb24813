"""The echo peer of bench_unix_socket.py: the session protocol's frames on a Unix socket and on TCP.

    python bench/bench_unix_socket_echo.py UNIX_PATH

One asyncio process listens on ``UNIX_PATH`` and on 127.0.0.1 (a free port),
prints ``ready PORT``, and serves both the same way: ``learn_unix_socket.frames``
cuts the stream into frames; INPUT comes back as OUTPUT with the same payload
(round trips); LIST is answered with SESSIONS carrying the number of payload
bytes received so far on that connection (throughput).
"""

from __future__ import annotations

import asyncio
import socket
import sys

from learn_unix_socket.frames import FrameParser, FrameType, serialize


async def serve_one(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    parser = FrameParser()
    received = 0
    with sock:
        while data := await loop.sock_recv(sock, 256 * 1024):
            out = []
            for frame in parser.feed(data):
                if frame.type is FrameType.INPUT:
                    received += len(frame.payload)
                    if len(frame.payload) <= 1024:  # small: a round trip; big: throughput, no echo
                        out.append(serialize(FrameType.OUTPUT, frame.payload))
                elif frame.type is FrameType.LIST:
                    out.append(serialize(FrameType.SESSIONS, str(received).encode()))
            if out:
                await loop.sock_sendall(sock, b"".join(out))


async def accept(listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    while True:
        sock, _ = await loop.sock_accept(listener)
        if sock.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as every RPC server does
        loop.create_task(serve_one(sock))


async def main(path: str) -> None:
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    for listener in (unix, tcp):
        listener.listen(16)
        listener.setblocking(False)
    print(f"ready {tcp.getsockname()[1]}", flush=True)
    await asyncio.gather(accept(unix), accept(tcp))


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
