"""The lab's scale step: N bare idle clients, and what they cost the server per client.

Each client is a plain socket that writes its method's opening bytes (a request,
a WebSocket handshake and ``{"resume": 0}`` in a frame masked with zeros, or a
subscription) and then sits.  The server's ``VmRSS`` and open descriptors come
from its ``/stats`` (``/proc/self``), before the clients and after, divided by N.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx


def stats(port: int) -> dict:
    """The server's ``/stats``: requests per path, open connections, RSS and descriptors."""
    return httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()


def opening(method: str, port: int, n: int) -> bytes:
    host = f"Host: 127.0.0.1:{port}\r\n"
    if method == "websocket":  # a handshake by hand, then {"resume": 0} in a masked frame (mask 0)
        payload = b'{"resume": 0}'
        return (f"GET /ws HTTP/1.1\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode() \
            + bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload
    if method == "webhook":
        body = json.dumps({"url": f"http://127.0.0.1:9/hook{n}", "since": 0}).encode()
        return (f"POST /webhook/subscriptions HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    path = {"short-poll": "/poll/latest", "long-poll": "/longpoll?since=0", "sse": "/sse",
            "chunked": "/stream?since=0"}[method]
    return f"GET {path} HTTP/1.1\r\n{host}\r\n".encode()


async def idle_client(method: str, port: int, n: int) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(opening(method, port, n))
    await writer.drain()
    if method != "long-poll":  # a held long poll answers nothing yet
        await asyncio.wait_for(reader.read(1), 20)
    if method == "webhook":
        writer.close()  # the subscription is the state; no connection stays
    return writer


async def scale(lab, row, sizes: list[int]) -> None:
    for n in sizes:
        server = lab.server("--hold", "120", "--heartbeat", "120", data=f"scale-{row.method}-{n}")
        await asyncio.sleep(0.5)
        base = stats(server.port)
        writers = []
        for start in range(0, n, 100):
            writers += await asyncio.gather(*(idle_client(row.method, server.port, i)
                                              for i in range(start, min(n, start + 100))))
        await asyncio.sleep(1.0)
        now = stats(server.port)
        row.scale[n] = {"rss_kib": (now["rss_kib"] - base["rss_kib"]) / n,
                        "fds": (now["fds"] - base["fds"]) / n}
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.close()
        server.stop()
