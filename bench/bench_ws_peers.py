"""Reference servers for the websocket benchmark, run as separate processes.

    python bench/bench_ws_peers.py ws-echo --port 0        bare `websockets` 17 echo server
    python bench/bench_ws_peers.py tcp-echo --port 0       asyncio TCP echo (no WebSocket at all)
    python bench/bench_ws_peers.py ws-broadcast --port 0   `websockets.broadcast` to every client

Each prints the wirelab ready line (``= anchor   listening on ws://127.0.0.1:PORT``)
once it accepts, naming the port it got (``--port 0``: any free one).

The broadcast server fans out each text message it receives from any client to
every connected client with ``websockets.broadcast``, the library's fast path
(it writes to each socket without awaiting it).  All run with compression off,
as do ours, so the comparison is frame for frame.
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve


def ready(scheme: str, port: int) -> None:
    print(f"= anchor   listening on {scheme}://127.0.0.1:{port}", flush=True)


async def ws_echo(port: int) -> None:
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None) as server:
        ready("ws", server.sockets[0].getsockname()[1])
        await asyncio.Future()


async def tcp_echo(port: int) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", port)
    ready("tcp", server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def ws_broadcast(port: int) -> None:
    clients = set()

    async def fan_out(ws):
        clients.add(ws)
        try:
            async for message in ws:
                broadcast(clients, message)
        finally:
            clients.discard(ws)

    async with serve(fan_out, "127.0.0.1", port, compression=None, ping_interval=None,
                     max_queue=None) as server:
        ready("ws", server.sockets[0].getsockname()[1])
        await asyncio.Future()


RUNNERS = {"ws-echo": ws_echo, "tcp-echo": tcp_echo, "ws-broadcast": ws_broadcast}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Reference servers for the websocket benchmark.")
    parser.add_argument("kind", choices=RUNNERS)
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    args = parser.parse_args()
    try:
        asyncio.run(RUNNERS[args.kind](args.port))
    except KeyboardInterrupt:
        pass
