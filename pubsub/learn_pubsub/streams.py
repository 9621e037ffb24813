"""The durable variant: Redis Streams and consumer groups (at least once).

Reading order: resp -> resp_client -> envelope -> publisher -> subscriber ->
slow_subscriber -> stream_producer -> **streams**.

    python -m learn_pubsub.streams produce --redis-url URL --stream orders --count 10
    python -m learn_pubsub.streams consume --redis-url URL --stream orders --group billing \\
        --consumer c1 [--process-delay 0.2] [--count N] [--processed-file PATH] [-v]

Pub/sub forgets a message once it is pushed; a stream *keeps* it, as an entry in
an append-only log, so a reader that was away reads it later.  Commands
(https://redis.io/docs/latest/develop/data-types/streams/)::

    XADD orders MAXLEN ~ 10000 * envelope {...}     append; trim to about 10000 entries
    XGROUP CREATE orders billing 0 MKSTREAM          a group reading from the start
    XREADGROUP GROUP billing c1 COUNT 10 BLOCK 500 STREAMS orders >    new entries for c1
    XREADGROUP GROUP billing c1 STREAMS orders 0     c1's own pending entries (after a crash)
    XACK orders billing 1767225600000-0              done: forget it for this group
    XPENDING orders billing IDLE 1000 - + 10         entries idle for over 1000 ms, and whose
    XAUTOCLAIM orders billing c2 1000 0-0            take over entries a dead consumer held

- **One group per service** (billing, shipping, ...): each group has its own
  position in the stream, so every service sees every entry (fan-out).
- **Consumers share a group's work**: XREADGROUP ``>`` hands each new entry to one
  consumer of the group, and records it as *pending* for that consumer until XACK.
- **At least once**: an entry is acknowledged only after it was processed.  A
  consumer that dies in between leaves it pending: restarted under the same name,
  it first reads its own pending entries (id ``0``); if it never comes back,
  another consumer XAUTOCLAIMs entries idle longer than ``claim_idle_ms``.  Either
  way the entry may be processed twice (the work was done, the XACK was not), so
  processing must be idempotent: that is what the envelope id is for.  "Idle"
  only means "delivered long ago and not acknowledged": a consumer that is merely
  slow loses its entries too, so ``claim_idle_ms`` must exceed the time a live
  consumer may hold one (``batch`` x processing time).
- **MAXLEN ~ N** bounds memory ("~": Redis trims whole nodes, cheaply, so the length
  is about N).  An entry trimmed before a group read it is lost for that group:
  durability lasts as long as the stream keeps the entry.
- Durable across a Redis restart only as far as Redis persists: with the AOF and
  ``appendfsync always`` every acknowledged XADD and XACK survives ``kill -9``.
- **The producer retries, and never writes an entry twice**: stream_producer.py
  (XADD inside a Lua script, once per idempotency key).

Processing is observable for tests and demos: ``--processed-file PATH`` appends a
line ``<envelope id> <entry id> <consumer>`` per processed entry (flushed at once,
so it survives SIGKILL).  A file, not a Redis key, on purpose: the side effect
lives outside Redis, as real work does, so a crash between doing it and XACK is a
real duplicate that the file shows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace, shorten

from .envelope import EnvelopeError, decode, sequential_ids
from .publisher import url_or_env
from .stream_producer import FIELD, StreamPublisher, client_for, text


@dataclass(frozen=True)
class Processed:
    envelope_id: str
    entry_id: str
    how: str  # "new", "pending" (our own, after a restart) or "claimed"


class StreamConsumer:
    """One consumer in a consumer group; reconnects, resumes, and claims; see the module docstring."""

    def __init__(self, redis_url: str, stream: str, group: str, consumer: str, *,
                 trace: Trace | None = None, claim_idle_ms: int = 30_000, batch: int = 10,
                 process_delay: float = 0.0, processed_file: str | None = None,
                 on_entry: Callable[[Processed], Any] | None = None, start_id: str = "0",
                 backoff_base: float = 0.1, backoff_max: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.redis_url, self.stream, self.group, self.consumer = redis_url, stream, group, consumer
        self.trace = trace or Trace(consumer)
        self.claim_idle_ms = claim_idle_ms
        self.batch = batch
        self.process_delay = process_delay
        self.on_entry = on_entry
        self.start_id = start_id  # where a *new* group starts: "0" all retained entries, "$" only new
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.rng = rng or random.Random()
        self.processed: list[Processed] = []
        self.claimed = 0  # entries taken over from other consumers
        self.invalid = 0  # entries that were not valid envelopes (acknowledged, not processed)
        self.lost = 0  # entries trimmed away while still pending
        self.delays: list[float] = []
        self._file: IO[str] | None = open(processed_file, "a") if processed_file else None
        self._claim_every = max(0.1, claim_idle_ms / 2000)  # seconds between XAUTOCLAIM rounds
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def processed_ids(self) -> list[str]:
        return [p.envelope_id for p in self.processed]

    async def start(self, timeout: float = 5.0) -> None:
        """Start consuming in a task; return once the group exists."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"consumer-{self.consumer}")
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_processed(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.processed) < count:
                self._changed.clear()
                await self._changed.wait()

    async def _run(self) -> None:
        attempt, connected_before = 0, False
        while not self._closing:
            client = client_for(self.redis_url)
            try:
                await self._ensure_group(client, connected_before)
                connected_before, attempt = True, 0
                await self._consume(client)
            except (RedisError, OSError) as exc:
                # A ResponseError too: after a restart *without* persistence the group is gone
                # (NOGROUP); the next round creates it again, from start_id.
                what = "redis error" if isinstance(exc, ResponseError) else "redis gone"
                reason = str(exc) or type(exc).__name__
            finally:
                await client.aclose()
            if self._closing:
                break
            delay = backoff_delay(attempt, self.backoff_base, self.backoff_max, self.rng)
            attempt += 1
            self.delays.append(delay)
            self.trace.state(f"{what} ({reason}); reconnect in {delay:.2g} s")
            await asyncio.sleep(delay)

    async def _ensure_group(self, client: aioredis.Redis, again: bool) -> None:
        try:
            await client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
            how = f"group created at {self.start_id}"
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
            how = "group exists"  # idempotent: another consumer (or we, earlier) made it
        verb = "consuming again" if again else "consuming"
        self.trace.state(f"{verb} {self.stream} as {self.group}/{self.consumer} ({how})")
        self._ready.set()

    async def _consume(self, client: aioredis.Redis) -> None:
        # 1. Our own pending entries first: delivered to us before a crash, never acknowledged.
        cursor = "0"
        while not self._closing and (entries := await self._read(client, cursor)):
            for entry_id, fields in entries:
                await self._process(client, entry_id, fields, "pending")
            cursor = entries[-1][0]
        # 2. Then new entries, with a claiming round for dead consumers' entries now and then.
        loop = asyncio.get_running_loop()
        next_claim = loop.time()
        block_ms = int(min(self._claim_every, 1.0) * 1000)
        while not self._closing:
            if loop.time() >= next_claim:
                await self._claim(client)
                next_claim = loop.time() + self._claim_every
            for entry_id, fields in await self._read(client, ">", block_ms):
                await self._process(client, entry_id, fields, "new")

    async def _read(self, client: aioredis.Redis, cursor: str,
                    block_ms: int | None = None) -> list[tuple[str, dict[bytes, bytes]]]:
        reply = await client.xreadgroup(self.group, self.consumer, {self.stream: cursor},
                                        count=self.batch, block=block_ms)
        return [(text(entry_id), fields) for _, entries in reply or [] for entry_id, fields in entries]

    async def _claim(self, client: aioredis.Redis) -> None:
        # XPENDING ... IDLE only to name the owners in the trace; XAUTOCLAIM does the work.
        idle = await client.xpending_range(self.stream, self.group, "-", "+", self.batch,
                                           idle=self.claim_idle_ms)
        owners = sorted({text(p["consumer"]) for p in idle} - {self.consumer})
        if not idle:
            return
        cursor = "0-0"
        while True:
            cursor, entries, deleted = await client.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, cursor, count=self.batch)
            cursor = text(cursor)
            if entries or deleted:
                self.trace.state(f"claimed {len(entries)} entries from a dead consumer "
                                 f"({', '.join(owners) or '?'}: idle > {self.claim_idle_ms} ms)")
            for entry_id in deleted:  # trimmed by MAXLEN while pending: Redis drops them itself
                self.lost += 1
                self.trace.state(f"{text(entry_id)} was trimmed before anyone processed it: lost")
            for entry_id, fields in entries:
                self.claimed += 1
                await self._process(client, text(entry_id), fields, "claimed")
            if cursor == "0-0":
                return

    async def _process(self, client: aioredis.Redis, entry_id: str, fields: dict[bytes, bytes] | None,
                       how: str) -> None:
        if not fields:
            # XREADGROUP 0 still lists a pending entry whose data was trimmed away.
            self.lost += 1
            self.trace.state(f"{entry_id} was trimmed before it was processed: lost")
        else:
            data = fields.get(FIELD.encode(), b"")
            try:
                envelope = decode(data, channel=self.stream)
            except EnvelopeError as exc:
                # A poison entry: retrying cannot fix it.  Acknowledge it so it does not
                # come back forever (production first copies it to a dead-letter stream).
                self.invalid += 1
                self.trace.state(f"{entry_id} is not a valid envelope: {exc}", [shorten(data)])
            else:
                if self.process_delay:
                    await asyncio.sleep(self.process_delay)  # the "work"; a crash here leaves it pending
                record = Processed(envelope.id, entry_id, how)
                if self._file is not None:
                    self._file.write(f"{envelope.id} {entry_id} {self.consumer}\n")
                    self._file.flush()  # in the kernel now: survives SIGKILL of this process
                self.processed.append(record)
                # From Redis (peer), with the entry id the producer's XADD event carries (cid).
                self.trace.received(f"{self.stream} {entry_id} {envelope.id} ({how})", [shorten(data)],
                                    peer="redis", cid=entry_id)
                if self.on_entry is not None:
                    self.on_entry(record)
        # Only now: a crash before this line means the entry will be delivered again.
        await client.xack(self.stream, self.group, entry_id)
        self._changed.set()

    async def close(self) -> None:
        # The flag as well as cancel(): redis-py can swallow a cancellation that lands
        # in a blocking read (XREADGROUP BLOCK returns as if it timed out; see
        # redis/redis-py#2028), so every loop also checks _closing.  BLOCK is short.
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5.0)
        if self._file is not None:
            self._file.close()
            self._file = None


async def produce(args: argparse.Namespace) -> None:
    trace = Trace(args.name or "producer", verbose=args.verbose, quiet=args.quiet)
    url = url_or_env(args.redis_url)
    # Redis must answer at the start (a wrong URL is a setup problem); after that a
    # failure is an outage, retried with backoff, and each entry is still written once.
    await check_redis(url)
    publisher = StreamPublisher(url, trace, maxlen=args.maxlen,
                                id_source=sequential_ids(args.id_prefix or trace.actor))
    try:
        for n in range(1, args.count + 1):
            await publisher.publish(args.stream, {"n": n}, retry=True)
            if args.interval and n < args.count:
                await asyncio.sleep(args.interval)
    finally:
        await publisher.aclose()
        trace.state(f"produced {len(publisher.entries)} entries, {len(publisher.delays)} retries after "
                    f"failures, {publisher.already_written} found already written")


async def consume(args: argparse.Namespace) -> None:
    trace = Trace(args.name or args.consumer, verbose=args.verbose, quiet=args.quiet)
    consumer = StreamConsumer(url_or_env(args.redis_url), args.stream, args.group, args.consumer,
                              trace=trace, claim_idle_ms=args.claim_idle_ms, batch=args.batch,
                              process_delay=args.process_delay, processed_file=args.processed_file)
    try:
        try:
            await consumer.start(timeout=10)
        except TimeoutError:
            raise SetupError("could not create or join the consumer group within 10 s",
                             "is redis-server running at --redis-url?") from None
        if args.count:
            try:
                await consumer.wait_processed(args.count, timeout=args.timeout)
            except TimeoutError:
                pass
            check(len(consumer.processed) >= args.count,
                  f"processed {len(consumer.processed)} of {args.count} entries in {args.timeout} s")
        else:
            await asyncio.Event().wait()  # until Ctrl-C or SIGTERM (run_main cancels us: finally runs)
    finally:
        await consumer.close()
        trace.state(f"processed {len(consumer.processed)} entries ({consumer.claimed} claimed, "
                    f"{consumer.invalid} invalid, {consumer.lost} lost to trimming)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.streams")
    commands = parser.add_subparsers(dest="command", required=True)
    pro = commands.add_parser("produce", help="XADD --count envelopes")
    con = commands.add_parser("consume", help="read as one consumer of a consumer group")
    for sub in (pro, con):
        sub.add_argument("--redis-url", help="default: $REDIS_URL")
        sub.add_argument("--stream", default="orders")
        sub.add_argument("--name", help="name in the trace")
        add_verbosity(sub)
    pro.add_argument("--count", type=int, default=10)
    pro.add_argument("--interval", type=float, default=0.0)
    pro.add_argument("--maxlen", type=int, default=10_000, help="XADD MAXLEN ~ N")
    pro.add_argument("--id-prefix", help="envelope ids are PREFIX-1, PREFIX-2, ...")
    con.add_argument("--group", default="billing", help="one group per service")
    con.add_argument("--consumer", default="c1", help="unique within the group; reuse it after a restart")
    con.add_argument("--count", type=int, default=0, help="exit after N processed entries (0: never)")
    con.add_argument("--timeout", type=float, default=30.0, help="with --count: fail after S seconds")
    con.add_argument("--batch", type=int, default=10, help="XREADGROUP/XAUTOCLAIM COUNT")
    con.add_argument("--claim-idle-ms", type=int, default=30_000, help="XAUTOCLAIM entries idle this long")
    con.add_argument("--process-delay", type=float, default=0.0, help="seconds of 'work' per entry")
    con.add_argument("--processed-file", help="append '<envelope id> <entry id> <consumer>' per entry")
    args = parser.parse_args(argv)
    run_main(lambda: produce(args) if args.command == "produce" else consume(args))


if __name__ == "__main__":
    main()
