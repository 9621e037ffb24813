"""pubsub benchmark: publish-to-deliver latency and throughput, ours beside bare redis-py and redis-benchmark.

    make bench-pubsub                  (or: python bench/bench_pubsub.py [--quick])

All on one throwaway redis-server on a free port.  Four paths, each with 1 and
100 subscribers:

- ``bare redis-py``: ``redis.asyncio`` PUBLISH, and subscribers reading
  ``PubSub.listen()``; the payload is the send time, nothing else (the anchor);
- ``ours pub/sub``: ``Publisher`` and ``Subscriber``: JSON envelopes (id, topic,
  timestamp, payload) built, validated on receipt, recorded, traced;
- ``ours pub/sub fast``: the same, by ``FastPublisher`` and ``FastSubscriber``
  (fast_pubsub.py: the same envelopes, records and trace on lean connections);
- ``ours streams``: ``StreamPublisher`` (XADD) and one ``StreamConsumer`` per
  subscriber service, each in its own consumer group (XREADGROUP, XACK);
- ``resp plain`` and ``resp fast``: our from-scratch ``RespClient`` publishing and
  subscribing (the bare payload, as the anchor), on the readable parser
  (``resp.py``) and on the fast one (``resp_fast.py``).

Then the two parsers alone, without sockets (``--parsers``): MB/s of replies
parsed, fed in one piece and in 1,460-byte pieces (a TCP segment's payload).

Latency: one message at a time, the clock from just before PUBLISH (or XADD)
to its arrival at each subscriber (all in one process: one clock).  Throughput:
a burst, until every subscriber has every message.  ``redis-benchmark``'s
PUBLISH rate (no subscribers, 50 parallel clients, pipelining off) is printed
as the server's ceiling.  Rounds alternate the paths; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from learn_pubsub.envelope import sequential_ids
from learn_pubsub.fast_pubsub import FastPublisher, FastSubscriber
from learn_pubsub.publisher import Publisher
from learn_pubsub.resp import RespParser
from learn_pubsub.resp_client import RespClient
from learn_pubsub.resp_fast import FastRespParser
from learn_pubsub.stream_producer import StreamPublisher
from learn_pubsub.streams import StreamConsumer
from learn_pubsub.subscriber import Subscriber
from wirelab_common.bench_report import report
from wirelab_common.redis_server import start_redis
from wirelab_common.wiretrace import Trace

NULL = Trace("bench", stream=open(os.devnull, "w"))  # noqa: SIM115  (kept open for the whole run)
CHANNEL = "bench.orders"
TARGET = 1.25  # ours pub/sub p99 / bare p99, at most (bench/README.md, issue 27)


class Run:
    """Arrival bookkeeping shared by every path: who got which message when."""

    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.sent: dict[str, int] = {}
        self.latencies: list[float] = []
        self.arrived = 0
        self.done = asyncio.Event()
        self.want = 0

    def arrive(self, key: str) -> None:
        self.latencies.append((time.perf_counter_ns() - self.sent[key]) / 1000)
        self.arrived += 1
        if self.arrived >= self.want:
            self.done.set()

    async def expect(self, count: int, send: Callable[[], Awaitable[None]]) -> None:
        self.arrived, self.want = 0, count * self.subscribers
        self.done.clear()
        await send()
        await asyncio.wait_for(self.done.wait(), 60)


async def bare(url: str, run: Run, messages: int) -> float:
    client = aioredis.from_url(url, max_connections=1000)  # one connection per subscriber
    readers = []

    async def listen(pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                run.arrive(message["data"].decode())

    for _ in range(run.subscribers):
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        readers.append(asyncio.create_task(listen(pubsub)))
    counter = iter(range(10**9))

    async def publish_one() -> None:
        key = str(next(counter))
        run.sent[key] = time.perf_counter_ns()
        await client.publish(CHANNEL, key)

    return await drive(run, messages, publish_one, lambda: cleanup(readers, client.aclose()))


async def ours_pubsub(url: str, run: Run, messages: int, subscriber: type[Subscriber] = Subscriber,
                      publisher_class: type[Publisher] = Publisher) -> float:
    publisher = publisher_class(url, NULL, id_source=sequential_ids("pub"))
    subs = [subscriber(url, channels=[CHANNEL], name=f"s{n}", trace=NULL,
                       on_message=lambda d: run.arrive(d.envelope.id)) for n in range(run.subscribers)]
    for sub in subs:
        await sub.start()

    async def publish_one() -> None:
        # The envelope's id is known only after publish() builds it; stamp the time first.
        stamp = time.perf_counter_ns()
        key = f"pub-{len(publisher.receipts) + 1}"
        run.sent[key] = stamp
        await publisher.publish(CHANNEL, {"n": 1})

    async def close() -> None:
        for sub in subs:
            await sub.close()
        await publisher.aclose()

    return await drive(run, messages, publish_one, close)


async def ours_pubsub_fast(url: str, run: Run, messages: int) -> float:
    return await ours_pubsub(url, run, messages, FastSubscriber, FastPublisher)


async def ours_streams(url: str, run: Run, messages: int) -> float:
    stream = f"bench-{time.monotonic_ns()}"
    publisher = StreamPublisher(url, NULL, id_source=sequential_ids("xadd"))
    consumers = [StreamConsumer(url, stream, f"g{n}", "c1", trace=NULL, start_id="$",
                                on_entry=lambda p: run.arrive(p.envelope_id), batch=100)
                 for n in range(run.subscribers)]
    for consumer in consumers:
        await consumer.start()

    async def publish_one() -> None:
        key = f"xadd-{len(publisher.entries) + 1}"
        run.sent[key] = time.perf_counter_ns()
        await publisher.publish(stream, {"n": 1})

    async def close() -> None:
        for consumer in consumers:
            await consumer.close()
        await publisher.aclose()

    return await drive(run, messages, publish_one, close)


def resp_path(parser: str) -> Callable[[str, Run, int], Awaitable[float]]:
    async def ours_resp(url: str, run: Run, messages: int) -> float:
        host, port = url.split("//")[1].split("/")[0].split(":")
        publisher = await RespClient.connect(host, int(port), parser=parser)
        subs = [await RespClient.connect(host, int(port), parser=parser) for _ in range(run.subscribers)]
        readers = []

        async def listen(client: RespClient) -> None:
            async for message in client.messages():
                run.arrive(message.data.decode())

        for sub in subs:
            await sub.subscribe(CHANNEL)
            readers.append(asyncio.create_task(listen(sub)))
        counter = iter(range(10**9))

        async def publish_one() -> None:
            key = str(next(counter))
            run.sent[key] = time.perf_counter_ns()
            await publisher.publish(CHANNEL, key)

        async def close() -> None:
            for sub in subs:
                await sub.close()
            await cleanup(readers, publisher.close())

        return await drive(run, messages, publish_one, close)

    return ours_resp


def parser_rates(rounds: int) -> None:
    """MB/s of each parser on the same replies, fed whole and in TCP-segment pieces."""
    messages = b"".join(b"*3\r\n$7\r\nmessage\r\n$12\r\nbench.orders\r\n$%d\r\n%s\r\n" % (len(p), p)
                        for p in (b'{"id":"pub-%d","n":1}' % n for n in range(20_000)))
    big_array = b"*20000\r\n" + b"".join(b"$10\r\n%010d\r\n" % n for n in range(20_000))
    cases = {"20,000 pushes, whole": (messages, len(messages)),
             "20,000 pushes, 1460-byte pieces": (messages, 1460),
             "one 20,000-element array, 1460-byte pieces": (big_array, 1460)}
    print(f"\n# the parsers alone: MB/s, median of {rounds} round(s)")
    print(f"{'input':<46}{'plain':>9}{'fast':>9}{'fast/plain':>12}")
    for name, (data, piece) in cases.items():
        rates = {}
        for label, parser_class in (("plain", RespParser), ("fast", FastRespParser)):
            samples = []
            for _ in range(rounds):
                parser, count = parser_class(), 0
                start = time.perf_counter()
                for i in range(0, len(data), piece):
                    for _ in parser.feed(data[i:i + piece]):
                        count += 1
                samples.append(len(data) / (time.perf_counter() - start) / 1e6)
            rates[label] = statistics.median(samples)
        ratio = rates["fast"] / rates["plain"]
        print(f"{name:<46}{rates['plain']:>9.1f}{rates['fast']:>9.1f}{ratio:>11.2f}x")


async def cleanup(tasks: list[asyncio.Task], closing: Awaitable[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await closing


async def drive(run: Run, messages: int, publish_one: Callable[[], Awaitable[None]],
                close: Callable[[], Awaitable[None]]) -> float:
    """Latency (one at a time) into ``run.latencies``; then a burst; returns delivered messages/s."""
    try:
        for _ in range(20):  # warm-up
            await run.expect(1, publish_one)
        run.latencies.clear()
        for _ in range(messages):
            await run.expect(1, publish_one)
        latencies = list(run.latencies)

        async def burst() -> None:
            for _ in range(messages):
                await publish_one()

        start = time.perf_counter()
        await run.expect(messages, burst)
        rate = messages * run.subscribers / (time.perf_counter() - start)
        run.latencies = latencies
        return rate
    finally:
        await close()


def redis_benchmark(port: int, requests: int) -> float:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", str(requests), "publish", "chan",
                          "hello"], capture_output=True, text=True, timeout=120).stdout
    match = re.search(r"([\d.]+) requests per second", out.replace("\r", "\n"))
    return float(match.group(1)) if match else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks the benchmark runs")
    parser.add_argument("--parsers", action="store_true", help="only the two RESP parsers, no Redis")
    args = parser.parse_args()
    rounds, messages = (1, 50) if args.quick else (3, 1000)
    parser_rates(rounds)
    if args.parsers:
        return
    paths = {"bare redis-py": bare, "ours pub/sub": ours_pubsub, "ours pub/sub fast": ours_pubsub_fast,
             "ours streams": ours_streams,
             "resp plain": resp_path("plain"), "resp fast": resp_path("fast")}
    proc, url = start_redis()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with proc:
        ceiling = redis_benchmark(port, 20000 if args.quick else 200000)
        print(f"# redis-benchmark PUBLISH (no subscribers): {ceiling:.0f} requests/s")
        for subscribers in (1, 100):
            results: dict[str, dict[str, list[float]]] = {
                p: {"p50": [], "p99": [], "rate": []} for p in paths}
            for _ in range(rounds):
                for name, path in paths.items():
                    run = Run(subscribers)
                    rate = asyncio.run(path(url, run, messages if subscribers == 1 else messages // 5))
                    results[name]["p50"].append(percentile(run.latencies, 0.50))
                    results[name]["p99"].append(percentile(run.latencies, 0.99))
                    results[name]["rate"].append(rate)
            print(f"\n# {subscribers} subscriber(s): latency one message at a time, then a burst; "
                  f"{rounds} rounds (median)")
            print(f"{'path':<20}{'p50 us':>9}{'p99 us':>9}{'delivered msg/s':>17}")
            med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
            for name, row in med.items():
                print(f"{name:<20}{row['p50']:>9.0f}{row['p99']:>9.0f}{row['rate']:>17.0f}")
            for name in ("ours pub/sub", "ours pub/sub fast"):
                ratio = med[name]["p99"] / med["bare redis-py"]["p99"]
                verdict = "ok" if ratio <= TARGET else "MISS"
                print(f"{name + ' p99 / bare p99':<34}x{ratio:.2f} (target <= {TARGET})  {verdict}")
                fast = name.endswith("fast")
                report("pubsub", f"p99, {'fast path' if fast else 'lesson classes'}, {subscribers} "
                       f"subscriber{'s' if subscribers > 1 else ''}", ratio, TARGET if fast else None,
                       better="lower", anchor="bare redis-py loop")
            fast = med["resp fast"]["rate"] / med["resp plain"]["rate"]
            print(f"resp fast / resp plain delivered msg/s  x{fast:.2f}")


if __name__ == "__main__":
    main()
