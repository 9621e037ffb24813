"""graphql benchmark: bid events delivered per second to many subscribers, beside a bare broadcast.

    make bench-graphql                (or: python bench/bench_graphql.py [--subscribers 1000] [--events 100])

One throwaway redis-server, then two servers in turn, each in its own process:

- ``graphql``: the auction server (``learn_graphql.auction.server``, strawberry
  on FastAPI/uvicorn, ``-q``): every subscriber's ``bids`` generator gets each
  event from the hub, strawberry runs the subscription's selection set on it
  and sends a ``next`` message;
- ``sse``: the same server, each subscriber one ``POST`` with ``Accept:
  text/event-stream`` (GraphQL over SSE), read with httpx;
- ``ours``: our own server (``learn_graphql.server``, ``-q``): the same schema,
  but one subscription generator for all subscribers of one document
  (``feeds.py``): one execution and one JSON encoding per event;
- ``anchor``: ``bench_graphql_anchor.py``, a bare ``websockets`` server that
  builds the same ``next`` text once per event and ``broadcast()``s it.

The WebSocket clients (one process: this one) are the same for graphql and the
anchor: N WebSockets with
the ``graphql-transport-ws`` subprotocol and no compression, each sends
``connection_init`` and ``subscribe`` through our ``ClientConnection`` and
then decodes every message it gets.  Events are PUBLISHed straight to the Redis
channel the servers listen on (the Lua script a bid runs publishes the same
JSON), all at once, after warm-up events (amount 0) have reached every
subscriber; the clock runs from the first PUBLISH until every subscriber has
every event.  events/s = subscribers x events / seconds.

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
from wirelab_common.bench_report import report
from wirelab_common.processes import start_server
from wirelab_common.redis_server import start_redis

HERE = Path(__file__).resolve().parent
BIDS = 'subscription { bids(lot: "lamp") { amount bidder seq server } }'
TARGET = 0.5


class Run:
    """Who is subscribed (has had a warm-up event), and when each subscriber had every event."""

    def __init__(self) -> None:
        self.subscribed = asyncio.Semaphore(0)  # released once a subscriber has sent its subscribe
        self.ready = 0
        self.done: list[float] = []


def counted(amount: int, run: Run, warmed: list[bool]) -> int:
    """1 for a timed event; a warm-up (amount 0) marks the subscriber ready the first time."""
    if amount > 0:
        return 1
    if not warmed[0]:
        warmed[0] = True
        run.ready += 1
    return 0


async def subscriber(url: str, events: int, run: Run) -> None:
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
        run.subscribed.release()
        seen, warmed = 0, [False]
        while seen < events:
            for event in conn.receive(await ws.recv()):
                seen += counted(event.payload["data"]["bids"]["amount"], run, warmed)
        run.done.append(time.perf_counter())


async def sse_subscriber(http: httpx.AsyncClient, url: str, events: int, run: Run) -> None:
    """The same subscription as one POST with Accept: text/event-stream; decodes every event's data."""
    headers = {"Accept": "text/event-stream", "Authorization": "Bearer alice-token"}
    async with http.stream("POST", url, json={"query": BIDS}, headers=headers) as response:
        run.subscribed.release()
        seen, warmed = 0, [False]
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                seen += counted(json.loads(line[6:])["data"]["bids"]["amount"], run, warmed)
                if seen == events:
                    break
        run.done.append(time.perf_counter())


def bid(amount: int) -> str:
    """A bid event as the Lua script publishes it (store.py)."""
    return json.dumps({"lot": "lamp", "amount": amount, "bidder": "carol", "seq": amount, "server": "s9"})


async def one_run(url: str, redis_url: str, subscribers: int, events: int) -> float:
    run = Run()
    tasks = []
    http = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None))
    for _ in range(subscribers):  # connect a few at a time: a thousand handshakes at once time out
        if url.startswith("http"):
            tasks.append(asyncio.create_task(sse_subscriber(http, url, events, run)))
        else:
            tasks.append(asyncio.create_task(subscriber(url, events, run)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)
    for _ in range(subscribers):  # every connection is open and has asked (nothing flows yet)
        await asyncio.wait_for(run.subscribed.acquire(), 120)
    redis = aioredis.from_url(redis_url)
    # Warm-up events (amount 0) until every subscriber has had one: then every subscription runs,
    # whatever the server (a per-subscriber generator, a shared feed, the anchor's set).  One at a
    # time, each given up to 5 s to arrive: a flood of them would delay the stragglers' subscribe.
    deadline = time.monotonic() + 120
    while run.ready < subscribers:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {run.ready} of {subscribers} subscribers got a warm-up event in 120 s")
        await redis.publish("auction:bids", bid(0))
        before, waited = run.ready, 0.0
        while run.ready < subscribers and waited < 5 and (run.ready == before or waited < 0.5):
            await asyncio.sleep(0.05)
            waited += 0.05
    payloads = [bid(n + 1) for n in range(events)]
    start = time.perf_counter()
    for payload in payloads:
        await redis.publish("auction:bids", payload)
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    await redis.aclose()
    await http.aclose()
    return max(run.done) - start


async def bench(args: argparse.Namespace) -> None:
    redis_proc, redis_url = start_redis()
    with redis_proc:
        graphql_argv = [sys.executable, "-m", "learn_graphql.auction.server", "--port", "0", "-q",
                        "--redis-url", redis_url, "--queue-size", str(args.events * 2)]
        ours_argv = [sys.executable, "-m", "learn_graphql.server", "--port", "0", "-q",
                     "--redis-url", redis_url]
        anchor_argv = [sys.executable, str(HERE / "bench_graphql_anchor.py"), "--port", "0",
                       "--redis-url", redis_url]
        times: dict[str, list[float]] = {"graphql": [], "sse": [], "ours": [], "anchor": []}
        paths = (("graphql", graphql_argv, "ws"), ("sse", graphql_argv, "http"), ("ours", ours_argv, "ws"),
                 ("anchor", anchor_argv, "ws"))
        for round_ in range(args.rounds):
            for name, argv, scheme in paths:
                with start_server(argv, name=name, timeout=30) as server:
                    path = "/" if name == "anchor" else "/graphql"
                    url = f"{scheme}://127.0.0.1:{server.port}{path}"
                    seconds = await one_run(url, redis_url, args.subscribers, args.events)
                    times[name].append(seconds)
                    rate = args.subscribers * args.events / seconds
                    print(f"round {round_ + 1}  {name:<8} {seconds:7.3f} s  {rate:10,.0f} events/s delivered",
                          flush=True)
    deliveries = args.subscribers * args.events
    g, a = statistics.median(times["graphql"]), statistics.median(times["anchor"])
    sse, ours = statistics.median(times["sse"]), statistics.median(times["ours"])
    ratio = a / g
    print(f"\n{args.subscribers} subscribers x {args.events} events, median of {args.rounds}:")
    print(f"  graphql (strawberry, graphql-transport-ws)  {deliveries / g:10,.0f} events/s")
    print(f"  graphql over SSE (strawberry, graphql-sse)  {deliveries / sse:10,.0f} events/s")
    print(f"  ours (server.py, one execution per event)   {deliveries / ours:10,.0f} events/s")
    print(f"  anchor (websockets.broadcast, same text)    {deliveries / a:10,.0f} events/s")
    verdict = "met" if ratio >= TARGET else "missed"
    print(f"  ratio graphql/anchor: {ratio:.2f}x (target >= {TARGET}x: {verdict})")
    print(f"  ratio SSE/anchor: {a / sse:.2f}x; SSE/WebSocket: {g / sse:.2f}x")
    print(f"  ratio ours/anchor: {a / ours:.2f}x (shared execution; {g / ours:.1f}x strawberry's path)")
    print(f"  the GraphQL layer costs {(g - a) / deliveries * 1e6:.1f} us per delivered event")
    full = (args.subscribers, args.events) == (1000, 100)
    anchor = "websockets.broadcast of the same payloads" + (
        "" if full else f", only {args.subscribers} x {args.events}")
    report("graphql", "strawberry, graphql-transport-ws", ratio, TARGET, anchor=anchor)
    report("graphql", "strawberry, graphql-sse", a / sse, None, anchor=anchor)
    report("graphql", "ours, shared execution", a / ours, TARGET, anchor=anchor)


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
