"""Attempts in flight per endpoint: bounded by ``per_endpoint``, the rest of ``concurrency`` serves others.

Two slow endpoints (raw servers that hold every answer 0.2 s) and one dispatcher in
this process, counting how many requests each endpoint has open at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from learn_webhook.dispatcher import Dispatcher
from learn_webhook.outbox import Outbox, State
from learn_webhook.retry_schedule import RetryPolicy
from learn_webhook.ssrf_guard import TargetGuard, parse_networks
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


class SlowEndpoint:
    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.seen: list[int] = []  # the event's n, in arrival order

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                self.seen.append(json.loads(body)["data"]["n"])
                self.open += 1
                self.most_open = max(self.most_open, self.open)
                await asyncio.sleep(0.2)
                self.open -= 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def deliver(tmp_path, per_endpoint: int, events: int, client: str) -> tuple[list[SlowEndpoint], int]:
    ids = itertools.count(1)
    outbox = Outbox.open(tmp_path / f"{per_endpoint}-{client}", new_id=lambda prefix: f"{prefix}_{next(ids)}")
    endpoints = [SlowEndpoint(), SlowEndpoint()]
    servers = [await asyncio.start_server(e.serve, "127.0.0.1", 0) for e in endpoints]
    for server in servers:
        outbox.add_subscription(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook", "whsec_AAAA")
    for n in range(events):
        outbox.add_event("tick", {"n": n})
    dispatcher = Dispatcher(outbox, RetryPolicy(), TargetGuard(parse_networks(["127.0.0.0/8"])),
                            concurrency=4, per_endpoint=per_endpoint, http_client=client,
                            trace=Trace("provider", quiet=True), loud=False)
    most_in_flight = 0
    running = asyncio.create_task(dispatcher.run())
    while outbox.counts()[State.DELIVERED] < 2 * events:
        most_in_flight = max(most_in_flight, dispatcher.in_flight)
        await asyncio.sleep(0.01)
    await dispatcher.stop(grace=1.0)
    await running
    for server in servers:
        server.close()
    outbox.close()
    return endpoints, most_in_flight


@pytest.mark.parametrize("client", ["lean", "httpx"])
def test_one_endpoint_never_has_more_than_its_share_in_flight(tmp_path, client):
    endpoints, most = asyncio.run(asyncio.wait_for(deliver(tmp_path, 2, 8, client), 30))
    assert [e.most_open for e in endpoints] == [2, 2]  # bounded, and the bound is used
    assert most == 4  # the global limit is reached by serving both endpoints at once


def test_one_in_flight_per_endpoint_arrives_in_order(tmp_path):
    endpoints, _ = asyncio.run(asyncio.wait_for(deliver(tmp_path, 1, 6, "lean"), 30))
    assert [e.most_open for e in endpoints] == [1, 1]
    assert [e.seen for e in endpoints] == [list(range(6))] * 2  # oldest first, one at a time
