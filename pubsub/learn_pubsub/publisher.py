"""The publisher: wrap a payload in an envelope and PUBLISH it to a topic channel.

Reading order: resp -> resp_client -> envelope -> **publisher** -> subscriber ->
slow_subscriber -> streams.

    python -m learn_pubsub.publisher --redis-url redis://127.0.0.1:6379/0 \\
        --topic orders.created --count 5 [--interval 0.5] [--payload '{"order": 42}'] [-v]

Redis command (https://redis.io/docs/latest/commands/publish/)::

    PUBLISH orders.created '{"id":"pub-1",...}'   ->   (integer) 2

The integer reply is the number of clients that received the message: those
subscribed to the channel plus those whose pattern matches it (a client
subscribed both ways counts twice).  It is the whole delivery guarantee of
Redis pub/sub, and this module traces it on every line:

    > pub      PUBLISH orders.created pub-1 -> 2 receiver(s)
    > pub      PUBLISH orders.created pub-2 -> 0 receivers: nobody was subscribed, the message is gone

**At most once.**  Redis forwards a published message to the subscribers
connected *at that instant* and forgets it.  Nobody stores it for a subscriber
that is offline, reconnecting, or not yet started: "0 receivers" means the
message now exists nowhere.  Even "2 receivers" only says Redis queued it for two
connections; one of them may drop before reading it (see slow_subscriber).
When that is not acceptable, use a stream (streams.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from wirelab_common.errors import SetupError, run_main
from wirelab_common.wiretrace import Trace, shorten

from .envelope import Envelope, encode, make_envelope, sequential_ids


@dataclass(frozen=True)
class Receipt:
    """One PUBLISH and Redis's answer: how many subscribers got it."""

    id: str
    topic: str
    receivers: int


class Publisher:
    """Publishes envelopes; remembers every receipt (``self.receipts``) for checks."""

    def __init__(self, redis_url: str, trace: Trace | None = None, *,
                 id_source: Callable[[], str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis_url = redis_url
        self.trace = trace or Trace("pub")
        self.id_source = id_source or sequential_ids(self.trace.actor or "pub")
        self.clock = clock
        self.receipts: list[Receipt] = []
        # A couple of quick retries on a fresh connection cover a pooled connection
        # that died with a Redis restart.  Caveat: if the first attempt's PUBLISH got
        # through and only its reply was lost, the retry publishes it twice.  That is
        # why envelopes carry an id: a subscriber can drop a duplicate.
        self._redis = aioredis.from_url(redis_url, decode_responses=True,
                                        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2))

    async def publish(self, topic: str, payload: Any) -> int:
        """Publish ``payload`` to ``topic``; return how many subscribers received it."""
        envelope = make_envelope(topic, payload, id_source=self.id_source, clock=self.clock)
        return await self.publish_envelope(envelope)

    async def publish_envelope(self, envelope: Envelope) -> int:
        data = encode(envelope)
        try:
            receivers = int(await self._redis.publish(envelope.topic, data))
        except (RedisError, OSError) as exc:
            # Not even "0 receivers": Redis never saw it.  Pub/sub keeps no outbox;
            # the caller decides whether to retry, buffer or drop.
            self.trace.state(f"PUBLISH {envelope.topic} {envelope.id} failed: {exc}")
            raise
        self.receipts.append(Receipt(envelope.id, envelope.topic, receivers))
        if receivers == 0:
            outcome = "0 receivers: nobody was subscribed, the message is gone"
        else:
            outcome = f"{receivers} receiver(s)"
        self.trace.sent(f"PUBLISH {envelope.topic} {envelope.id} -> {outcome}", [shorten(data, 200)])
        return receivers

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def __aenter__(self) -> Publisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def url_or_env(url: str | None) -> str:
    """The ``--redis-url`` given, else ``$REDIS_URL``, else a SetupError with a hint."""
    url = url or os.environ.get("REDIS_URL")
    if not url:
        raise SetupError("no Redis to talk to",
                         "pass --redis-url redis://127.0.0.1:PORT/0 (or set REDIS_URL); "
                         "start one with: redis-server --port PORT --save ''")
    return url


async def run_cli(args: argparse.Namespace) -> None:
    trace = Trace(args.name, verbose=args.verbose)
    url = url_or_env(args.redis_url)
    publisher = Publisher(url, trace, id_source=sequential_ids(args.id_prefix or args.name))
    fixed = json.loads(args.payload) if args.payload is not None else None
    try:
        for n in range(1, args.count + 1):
            payload = fixed if args.payload is not None else {"n": n}
            try:
                await publisher.publish(args.topic, payload)
            except (RedisError, OSError) as exc:
                raise SetupError(f"cannot publish to Redis at {url}: {exc}",
                                 "is redis-server running there? (redis-cli -u URL ping)") from None
            if args.interval and n < args.count:
                await asyncio.sleep(args.interval)
    finally:
        await publisher.aclose()
    lost = sum(1 for r in publisher.receipts if r.receivers == 0)
    total = sum(r.receivers for r in publisher.receipts)
    trace.state(f"published {len(publisher.receipts)} message(s): {total} deliveries, "
                f"{lost} with 0 receivers (lost)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.publisher")
    parser.add_argument("--redis-url", help="default: $REDIS_URL")
    parser.add_argument("--topic", default="orders.created", help="the channel to PUBLISH to")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between messages")
    parser.add_argument("--payload", help='JSON payload for every message (default: {"n": N})')
    parser.add_argument("--name", default="pub", help="name in the trace")
    parser.add_argument("--id-prefix", help="envelope ids are PREFIX-1, PREFIX-2, ... (default: --name)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each envelope")
    args = parser.parse_args(argv)
    if args.payload is not None:
        try:
            json.loads(args.payload)
        except ValueError as exc:
            parser.error(f"--payload is not JSON: {exc}")
    run_main(lambda: run_cli(args))


if __name__ == "__main__":
    main()
