"""Reference servers for the websocket benchmark, run as separate processes.

    python bench/bench_ws_peers.py ws-echo PORT      bare `websockets` 17 echo server
    python bench/bench_ws_peers.py tcp-echo PORT     asyncio TCP echo (no WebSocket at all)
    python bench/bench_ws_peers.py ws-broadcast PORT `websockets.broadcast` to every client

The broadcast server fans out each text message it receives from any client to
every connected client with ``websockets.broadcast``, the library's fast path
(it writes to each socket without awaiting it).  All run with compression off,
as do ours, so the comparison is frame for frame.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve


async def ws_echo(port: int) -> None:
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
        print(f"= anchor   listening on ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


async def tcp_echo(port: int) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", port)
    print(f"= anchor   listening on tcp://127.0.0.1:{port}/", flush=True)
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

    async with serve(fan_out, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
        print(f"= anchor   listening on ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    runner = {"ws-echo": ws_echo, "tcp-echo": tcp_echo, "ws-broadcast": ws_broadcast}[kind]
    try:
        asyncio.run(runner(port))
    except KeyboardInterrupt:
        pass
