"""Each of the six deliveries end to end: the server process, our client, one schedule.

The schedule is bursts of three events made in one step: the lossless methods
must show every seq once, in order; short polling of the coalescing
``/poll/latest`` must show exactly the last event of each burst.
"""

from __future__ import annotations

import asyncio

import pytest

from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.loopback

LOSSLESS = ["long-poll", "sse", "websocket", "webhook", "chunked"]


async def connected(server, count: int) -> None:
    """Until ``count`` clients hold a request, a stream or a subscription open at the server."""
    def ready() -> bool:
        stats = server.stats()
        return stats["open"] - 1 + stats["subscriptions"] >= count  # minus this /stats request
    await eventually_async(ready, 10, f"{count} clients connected")


@pytest.mark.parametrize("method", LOSSLESS)
async def test_every_event_arrives_once_in_order(method, feed_server, run_client):
    server = feed_server()
    client = await run_client(method, server.base)
    await connected(server, 1)
    for _ in range(4):
        server.publish(3)
        await asyncio.sleep(0.1)
    await client.wait_seqs(lambda seqs: len(seqs) >= 12, "12 events")
    assert client.sink.seqs == list(range(1, 13))


async def test_short_polling_the_latest_price_sees_only_the_last_of_each_burst(feed_server, run_client):
    server = feed_server()
    client = await run_client("short-poll", server.base, interval=0.05)
    for burst in range(1, 5):
        server.publish(3)  # three events in one step: no poll can fall between them
        await client.wait_seqs(lambda seqs, last=3 * burst: seqs[-1:] == [last], f"seq {3 * burst}", 5)
    assert client.sink.seqs == [3, 6, 9, 12]  # 8 of 12 lost, by design: the endpoint coalesces


async def test_short_polling_sends_if_none_match_and_gets_304s_while_nothing_changes(feed_server, run_client):
    server = feed_server()
    server.publish(1)
    client = await run_client("short-poll", server.base, interval=0.05)
    await client.wait_seqs(lambda seqs: seqs == [1], "seq 1")
    before = server.stats()["requests"]["/poll/latest"]
    await asyncio.sleep(0.5)
    assert server.stats()["requests"]["/poll/latest"] > before  # still polling: the idle cost
    assert client.sink.seqs == [1] and client.sink.repeats == 0  # 304s carry no event


@pytest.mark.parametrize("method", LOSSLESS + ["short-poll"])
async def test_a_restart_loses_nothing_for_the_cursor_methods(method, feed_server, run_client):
    first = feed_server()
    options = {"interval": 0.05} if method == "short-poll" else {}
    client = await run_client(method, first.base, **options)
    if method != "short-poll":  # (a poller holds nothing open between polls)
        await connected(first, 1)
    first.publish(3)
    await client.wait_seqs(lambda seqs: seqs[-1:] == [3], "seq 3")
    assert first.proc.stop() == 0  # SIGTERM: streams end, the client starts reconnecting
    again = feed_server(port=first.port)  # same port, same data directory
    if method != "short-poll":
        await connected(again, 1)
    again.publish(3)
    await client.wait_seqs(lambda seqs: seqs[-1:] == [6], "seq 6 after the restart", 15)
    expected = [3, 6] if method == "short-poll" else [1, 2, 3, 4, 5, 6]
    assert client.sink.seqs == expected
