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
message now exists nowhere.  But "2 receivers" is no proof of receipt either: it
only says Redis queued it for two connections.  One of them may drop before
reading it (see slow_subscriber; tests/pubsub/test_pubsub.py freezes one with
SIGSTOP, publishes, then kills it), and a subscriber that already died counts as
long as Redis has not noticed (after a crashed host or a cut cable that can take
minutes: TCP must first give up on the connection).  So the 0-receiver count is
a *lower bound* of what was lost, and the command line's summary says so.  When
that is not acceptable, use a stream (streams.py).

**Redis restarts.**  ``publish(..., retry=True)`` (what the command line uses)
retries a failed PUBLISH with full-jitter backoff (``wirelab_common/backoff.py``,
as the subscriber reconnects) until Redis answers, and traces each retry::

    = pub      PUBLISH orders.created pub-9 failed (Connection closed by server.); retry in 0.0057 s

A retry sends the *same* envelope.  If the failed attempt did reach Redis and only
its reply was lost, subscribers get that message twice, with one id: they can
drop the second.  (The Streams producer does better: stream_producer.py.)  redis-py's own
silent retries are off, so that every retry shows up in the trace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import SetupError, run_main
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_verbosity
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
                 clock: Callable[[], float] = time.time,
                 backoff_base: float = 0.1, backoff_max: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.redis_url = redis_url
        self.trace = trace or Trace("pub")
        self.id_source = id_source or sequential_ids(self.trace.actor or "pub")
        self.clock = clock
        self.receipts: list[Receipt] = []
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.rng = rng or random.Random()
        self.delays: list[float] = []  # every retry delay slept, in order
        # redis-py's own retries off: retrying is publish(retry=True)'s job, and traced.
        self._redis = aioredis.from_url(redis_url, decode_responses=True, retry=Retry(NoBackoff(), 0))

    async def publish(self, topic: str, payload: Any, *, retry: bool = False) -> int:
        """Publish ``payload`` to ``topic``; return how many subscribers received it.

        One attempt, which raises if Redis cannot be reached; with ``retry`` the same
        envelope is sent again, after a backoff delay, until Redis answers.
        """
        envelope = make_envelope(topic, payload, id_source=self.id_source, clock=self.clock)
        if not retry:
            return await self.publish_envelope(envelope)
        return await with_backoff(lambda: self.publish_envelope(envelope), self.trace,
                                  f"PUBLISH {topic} {envelope.id}", base=self.backoff_base,
                                  max_delay=self.backoff_max, rng=self.rng, delays=self.delays)

    async def publish_envelope(self, envelope: Envelope) -> int:
        data = encode(envelope)
        # A RedisError or OSError here is not even "0 receivers": Redis never saw it, or we
        # never saw its answer.  Pub/sub keeps no outbox; the caller retries, buffers or drops.
        receivers = int(await self._redis.publish(envelope.topic, data))
        self.receipts.append(Receipt(envelope.id, envelope.topic, receivers))
        if receivers == 0:
            outcome = "0 receivers: nobody was subscribed, the message is gone"
        else:
            outcome = f"{receivers} receiver(s)"
        # To Redis (it traces nothing: the viewer draws it from this name); the envelope id
        # is the correlation id every subscriber's event carries too.
        self.trace.sent(f"PUBLISH {envelope.topic} {envelope.id} -> {outcome}", [shorten(data, 200)],
                        peer="redis", cid=envelope.id)
        return receivers

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def __aenter__(self) -> Publisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def with_backoff(attempt: Callable[[], Awaitable[Any]], trace: Trace, what: str, *,
                       base: float, max_delay: float, rng: random.Random,
                       delays: list[float] | None = None) -> Any:
    """Await ``attempt()`` until it gets through Redis, with full-jitter backoff between tries.

    Every failure is traced with the delay before the next try (``delays`` records
    them).  There is no limit: a long-running producer waits out the outage, as the
    subscriber does; Ctrl-C or SIGTERM stops it.
    """
    failures = 0  # in a row: the backoff ceiling doubles with each
    while True:
        try:
            return await attempt()
        except (RedisError, OSError) as exc:
            delay = backoff_delay(failures, base, max_delay, rng)
            failures += 1
            if delays is not None:
                delays.append(delay)
            trace.state(f"{what} failed ({str(exc) or type(exc).__name__}); retry in {delay:.2g} s")
            await asyncio.sleep(delay)


def url_or_env(url: str | None) -> str:
    """The ``--redis-url`` given, else ``$REDIS_URL``, else a SetupError with a hint."""
    url = url or os.environ.get("REDIS_URL")
    if not url:
        raise SetupError("no Redis to talk to",
                         "pass --redis-url redis://127.0.0.1:PORT/0 (or set REDIS_URL); "
                         "start one with: redis-server --port PORT --save ''")
    return url


async def run_cli(args: argparse.Namespace) -> None:
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    url = url_or_env(args.redis_url)
    # Redis must answer at the start (a wrong URL is a setup problem, not an outage);
    # after that, a failed PUBLISH is an outage: retried until Redis is back.
    await check_redis(url)
    publisher = Publisher(url, trace, id_source=sequential_ids(args.id_prefix or args.name))
    fixed = json.loads(args.payload) if args.payload is not None else None
    try:
        for n in range(1, args.count + 1):
            payload = fixed if args.payload is not None else {"n": n}
            await publisher.publish(args.topic, payload, retry=True)
            if args.interval and n < args.count:
                await asyncio.sleep(args.interval)
    finally:
        await publisher.aclose()
        trace.state(summary(publisher))


def summary(publisher: Publisher) -> str:
    """The closing line: what PUBLISH's counts prove, and what they do not."""
    receipts = publisher.receipts
    nobody = sum(1 for r in receipts if r.receivers == 0)
    copies = sum(r.receivers for r in receipts)
    retried = f", {len(publisher.delays)} retries after failures" if publisher.delays else ""
    return (f"published {len(receipts)} message(s){retried}: {nobody} reached no subscriber "
            f"(0 receivers: lost for sure), {copies} copies handed to subscriber connections "
            "(not proof of receipt: a subscriber that dies before reading, or died before "
            "Redis noticed, loses its copy all the same)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.publisher")
    parser.add_argument("--redis-url", help="default: $REDIS_URL")
    parser.add_argument("--topic", default="orders.created", help="the channel to PUBLISH to")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between messages")
    parser.add_argument("--payload", help='JSON payload for every message (default: {"n": N})')
    parser.add_argument("--name", default="pub", help="name in the trace")
    parser.add_argument("--id-prefix", help="envelope ids are PREFIX-1, PREFIX-2, ... (default: --name)")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    if args.payload is not None:
        try:
            json.loads(args.payload)
        except ValueError as exc:
            parser.error(f"--payload is not JSON: {exc}")
    run_main(lambda: run_cli(args))


if __name__ == "__main__":
    main()
