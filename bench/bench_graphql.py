"""graphql benchmark: bid events delivered per second to many subscribers, beside a bare broadcast.

    make bench-graphql                (or: python bench/bench_graphql.py [--subscribers 1000] [--events 100])

One throwaway redis-server, then two servers in turn, each in its own process:

- ``graphql``: the auction server (``learn_graphql.auction.server``, strawberry
  on FastAPI/uvicorn, ``-q``): every subscriber's ``bids`` generator gets each
  event from the hub, strawberry runs the subscription's selection set on it
  and sends a ``next`` message;
- ``sse``: the same server, each subscriber one ``POST`` with ``Accept:
  text/event-stream`` (GraphQL over SSE), read with httpx;
- ``anchor``: ``bench_graphql_anchor.py``, a bare ``websockets`` server that
  builds the same ``next`` text once per event and ``broadcast()``s it.

The WebSocket clients (one process: this one) are the same for graphql and the
anchor: N WebSockets with
the ``graphql-transport-ws`` subprotocol and no compression, each sends
``connection_init`` and ``subscribe`` through our ``ClientConnection`` and
then decodes every message it gets.  Events are PUBLISHed straight to the Redis
channel the servers listen on (the Lua script a bid runs publishes the same
JSON), all at once; the clock runs from the first PUBLISH until every
subscriber has every event.  events/s = subscribers x events / seconds.

The GraphQL layer's cost per delivered event is the difference of the two
times divided by subscribers x events.  Target (bench/README.md): graphql >=
0.5x the anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from learn_graphql.transport_ws import SUBPROTOCOL, ClientConnection
from wirelab_common.processes import start_server
from wirelab_common.redis_server import start_redis

HERE = Path(__file__).resolve().parent
BIDS = 'subscription { bids(lot: "lamp") { amount bidder seq server } }'
TARGET = 0.5


async def subscriber(url: str, events: int, ready: asyncio.Semaphore, done: list[float]) -> None:
    # No keepalive pings: a server busy for 20 s with 1,000 subscribers would fail them (1011).
    async with connect(url, subprotocols=[SUBPROTOCOL], compression=None, max_queue=None,
                       open_timeout=30, ping_interval=None) as ws:
        conn = ClientConnection({"token": "alice-token"})
        for text in conn.data_to_send():
            await ws.send(text)
        conn.receive(await ws.recv())  # connection_ack
        conn.subscribe("1", BIDS)
        for text in conn.data_to_send():
            await ws.send(text)
        ready.release()
        seen = 0
        while seen < events:
            seen += len(conn.receive(await ws.recv()))
        done.append(time.perf_counter())


async def sse_subscriber(http: httpx.AsyncClient, url: str, events: int, ready: asyncio.Semaphore,
                         done: list[float]) -> None:
    """The same subscription as one POST with Accept: text/event-stream; decodes every event's data."""
    headers = {"Accept": "text/event-stream", "Authorization": "Bearer alice-token"}
    async with http.stream("POST", url, json={"query": BIDS}, headers=headers) as response:
        ready.release()
        seen = 0
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                json.loads(line[6:])
                seen += 1
                if seen == events:
                    break
        done.append(time.perf_counter())


async def one_run(url: str, redis_url: str, subscribers: int, events: int, wait_ready) -> float:
    ready = asyncio.Semaphore(0)
    done: list[float] = []
    tasks = []
    http = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None))
    for _ in range(subscribers):  # connect a few at a time: a thousand handshakes at once time out
        if url.startswith("http"):
            tasks.append(asyncio.create_task(sse_subscriber(http, url, events, ready, done)))
        else:
            tasks.append(asyncio.create_task(subscriber(url, events, ready, done)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)
    for _ in range(subscribers):
        await asyncio.wait_for(ready.acquire(), 60)
    await wait_ready()
    redis = aioredis.from_url(redis_url)
    payloads = [json.dumps({"lot": "lamp", "amount": 100 + n, "bidder": "carol", "seq": n + 1,
                            "server": "s9"}) for n in range(events)]
    start = time.perf_counter()
    for payload in payloads:
        await redis.publish("auction:bids", payload)
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    await redis.aclose()
    await http.aclose()
    return max(done) - start


async def active(url: str) -> int:
    async with connect(url, subprotocols=[SUBPROTOCOL], compression=None) as ws:
        conn = ClientConnection({"token": "alice-token"})
        await ws.send(conn.data_to_send()[0])
        conn.receive(await ws.recv())
        conn.subscribe("s", "{ stats { activeSubscriptions } }")
        await ws.send(conn.data_to_send()[0])
        reply = json.loads(await ws.recv())
        return reply["payload"]["data"]["stats"]["activeSubscriptions"]


async def bench(args: argparse.Namespace) -> None:
    redis_proc, redis_url = start_redis()
    with redis_proc:
        graphql_argv = [sys.executable, "-m", "learn_graphql.auction.server", "--port", "0", "-q",
                        "--redis-url", redis_url, "--queue-size", str(args.events * 2)]
        anchor_argv = [sys.executable, str(HERE / "bench_graphql_anchor.py"), "--port", "0",
                       "--redis-url", redis_url]
        times: dict[str, list[float]] = {"graphql": [], "sse": [], "anchor": []}
        for round_ in range(args.rounds):
            for name, argv in (("graphql", graphql_argv), ("sse", graphql_argv), ("anchor", anchor_argv)):
                with start_server(argv, name=name, timeout=30) as server:
                    if name in ("graphql", "sse"):
                        ws_url = url = f"ws://127.0.0.1:{server.port}/graphql"
                        if name == "sse":
                            url = f"http://127.0.0.1:{server.port}/graphql"

                        async def wait_ready(url=ws_url) -> None:  # every generator subscribed to the hub
                            while await active(url) < args.subscribers:
                                await asyncio.sleep(0.1)
                    else:
                        url = f"ws://127.0.0.1:{server.port}/"

                        async def wait_ready() -> None:
                            await asyncio.sleep(0.5)  # the anchor adds a client right after its subscribe
                    seconds = await one_run(url, redis_url, args.subscribers, args.events, wait_ready)
                    times[name].append(seconds)
                    rate = args.subscribers * args.events / seconds
                    print(f"round {round_ + 1}  {name:<8} {seconds:7.3f} s  {rate:10,.0f} events/s delivered",
                          flush=True)
    deliveries = args.subscribers * args.events
    g, a = statistics.median(times["graphql"]), statistics.median(times["anchor"])
    sse = statistics.median(times["sse"])
    ratio = a / g
    print(f"\n{args.subscribers} subscribers x {args.events} events, median of {args.rounds}:")
    print(f"  graphql (strawberry, graphql-transport-ws)  {deliveries / g:10,.0f} events/s")
    print(f"  graphql over SSE (strawberry, graphql-sse)  {deliveries / sse:10,.0f} events/s")
    print(f"  anchor (websockets.broadcast, same text)    {deliveries / a:10,.0f} events/s")
    verdict = "met" if ratio >= TARGET else "missed"
    print(f"  ratio graphql/anchor: {ratio:.2f}x (target >= {TARGET}x: {verdict})")
    print(f"  ratio SSE/anchor: {a / sse:.2f}x; SSE/WebSocket: {g / sse:.2f}x")
    print(f"  the GraphQL layer costs {(g - a) / deliveries * 1e6:.1f} us per delivered event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="100 subscribers x 20 events")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.events = 100, 20
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
