"""The subscriber: topic channels and patterns, envelope checks, and reconnecting.

Reading order: resp -> resp_client -> envelope -> publisher -> **subscriber**
-> slow_subscriber -> streams.  The reconnect delay is ``wirelab_common/backoff.py``.

    python -m learn_pubsub.subscriber --redis-url redis://127.0.0.1:6379/0 \\
        --channel orders.created --pattern 'orders.*' [--count N] [--name sub-a] [-v]

Redis commands (https://redis.io/docs/latest/develop/pubsub/)::

    SUBSCRIBE orders.created users.created   exact channel names
    PSUBSCRIBE orders.*                      glob patterns: orders.created, orders.paid, ...

After SUBSCRIBE the connection is in subscribed mode: Redis *pushes* to it
``message <channel> <data>`` (or ``pmessage <pattern> <channel> <data>``) and it
may only (un)subscribe or PING.  So a subscriber holds a connection of its own.

Semantics to keep in mind, each shown by a test in tests/pubsub/test_pubsub.py:

- fan-out: every subscribed connection gets its own copy of each message;
- a client subscribed to a channel *and* a matching pattern gets the message
  twice (once as ``message``, once as ``pmessage``): :class:`Delivery` says which;
- one connection sees messages in the order Redis received the PUBLISHes;
- **at most once**: while the connection is down, or before it resubscribed,
  messages are not kept anywhere for us.  Reconnecting does not bring them back.

Reconnecting (the state this class adds on top of redis-py), the table
``RECONNECT`` that :attr:`Subscriber.machine` follows: ``confirmed`` is Redis
confirming every SUBSCRIBE/PSUBSCRIBE, ``failed`` a connection attempt that
did not get there, ``lost`` the connection of a subscribed client ending, and
``backoff_over`` the end of ``backoff_delay(attempt)`` (full jitter)::

    CONNECTING --confirmed-->    SUBSCRIBED
    CONNECTING --failed-->       WAITING
    SUBSCRIBED --lost-->         WAITING
    WAITING    --backoff_over--> CONNECTING

redis-py's PubSub can reconnect and resubscribe silently on its own; we turn that
off so that the gap shows up in the trace.  ``Retry(NoBackoff(), 0)`` alone is not
enough: on a connection error redis-py's PubSub first reconnects, which resubscribes,
and only then raises, retries or not.  With Redis already back, that subscription
would be counted by PUBLISH until we close the old connection, and its messages
lost.  So the retry object handles no error at all (``supported_errors=()``): the
error reaches us at once, and the only resubscription is ours::

    = sub-a    redis gone (Connection closed by server.); reconnect in 0.3 s
    = sub-a    resubscribed to 2 channel(s), 1 pattern(s) after a 1.4 s gap (its messages are lost)

A connection that is silently cut (a dead NAT, a pulled cable) raises nothing;
production code adds ``health_check_interval`` (a PING in subscribed mode) or TCP
keepalive.  Here Redis is on loopback, so a restart closes our socket at once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.state_table import Machine, StateTable
from wirelab_common.wiretrace import Trace, shorten

from .envelope import Envelope, EnvelopeError, decode
from .publisher import url_or_env

RECONNECT = StateTable("subscriber", {
    ("CONNECTING", "confirmed"): "SUBSCRIBED",
    ("CONNECTING", "failed"): "WAITING",
    ("SUBSCRIBED", "lost"): "WAITING",
    ("WAITING", "backoff_over"): "CONNECTING",
})


@dataclass(frozen=True)
class Delivery:
    """One valid message as it arrived: ``pattern`` is set if a PSUBSCRIBE matched it."""

    envelope: Envelope
    channel: str
    pattern: str | None = None


class Subscriber:
    """A pub/sub subscriber that reconnects and resubscribes; see the module docstring."""

    def __init__(self, redis_url: str, *, channels: Iterable[str] = (), patterns: Iterable[str] = (),
                 name: str = "sub", trace: Trace | None = None,
                 on_message: Callable[[Delivery], Any] | None = None,
                 backoff_base: float = 0.1, backoff_max: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.redis_url = redis_url
        self.channels = list(channels)
        self.patterns = list(patterns)
        if not self.channels and not self.patterns:
            raise ValueError("subscribe to at least one channel or pattern")
        self.name = name
        self.trace = trace or Trace(name)
        self.on_message = on_message
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.deliveries: list[Delivery] = []
        self.invalid: list[tuple[str, str]] = []  # (channel, what was wrong)
        self.connects = 0  # successful (re)subscriptions
        self.delays: list[float] = []  # every backoff delay slept, in order
        self.machine = Machine(RECONNECT, "CONNECTING")
        self._subscribed = asyncio.Event()
        self._changed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def received_ids(self) -> list[str]:
        return [d.envelope.id for d in self.deliveries]

    def missed(self, published_ids: Iterable[str]) -> list[str]:
        """Which of ``published_ids`` never reached us (in publishing order)."""
        got = set(self.received_ids)
        return [i for i in published_ids if i not in got]

    async def start(self, timeout: float = 5.0) -> None:
        """Start the read loop; return once Redis has confirmed every subscription."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"subscriber-{self.name}")
        await self.wait_subscribed(timeout)

    async def wait_subscribed(self, timeout: float = 5.0) -> None:
        """Wait until subscribed (after a reconnect: until resubscribed)."""
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    @property
    def is_subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def wait_until(self, predicate: Callable[[Subscriber], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate(self)`` holds; re-checked after every message and state change."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_count(self, count: int, timeout: float = 5.0) -> None:
        await self.wait_until(lambda s: len(s.deliveries) + len(s.invalid) >= count, timeout)

    async def _run(self) -> None:
        attempt = 0  # failed attempts since we were last subscribed
        lost_at: float | None = None
        loop = asyncio.get_running_loop()
        while not self._closing:
            client, pubsub = self._connection()
            was_subscribed = False
            try:
                await self._subscribe(pubsub, lost_at is not None, loop.time() - (lost_at or 0.0))
                was_subscribed = True
                attempt = 0
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self.machine.fire("lost" if was_subscribed else "failed")
                self._subscribed.clear()  # from here on, PUBLISH on our channels reaches nobody here
                self._changed.set()
                await _quietly_close(pubsub, client)
            if self._closing:
                break
            if was_subscribed:
                lost_at = loop.time()
            delay = backoff_delay(attempt, self.backoff_base, self.backoff_max, self.rng)
            attempt += 1
            self.delays.append(delay)
            what = "redis gone" if was_subscribed else "cannot reach redis"
            self.trace.state(f"{what} ({reason}); reconnect in {delay:.2g} s")
            await asyncio.sleep(delay)
            self.machine.fire("backoff_over")

    def _connection(self) -> tuple[Any, Any]:
        """A fresh client per attempt, and its PubSub: (client, pubsub)."""
        # redis-py's own retries off: reconnecting and resubscribing are ours to do, and to
        # trace.  decode_responses=False: a message that is not UTF-8 must reach our
        # validation, not crash the parser.
        client = aioredis.from_url(self.redis_url, decode_responses=False, client_name=self.name,
                                   retry=Retry(NoBackoff(), 0, supported_errors=()))
        return client, client.pubsub()

    async def _listen(self, pubsub: Any) -> None:
        """Handle each pushed message until we close; a lost connection raises."""
        while not self._closing:
            message = await pubsub.get_message(timeout=None)  # block until pushed
            if message is not None:
                self._handle(message)

    async def _subscribe(self, pubsub: Any, again: bool, gap: float) -> None:
        if self.channels:
            await pubsub.subscribe(*self.channels)
        if self.patterns:
            await pubsub.psubscribe(*self.patterns)
        # Redis confirms each name with a (p)subscribe push; only then is it certain
        # that a PUBLISH reaches us.  A message may already arrive between two
        # confirmations: handle it, do not drop it.
        pending = len(self.channels) + len(self.patterns)
        while pending:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise RedisError("no subscription confirmation within 5 s")
            if message["type"] in ("subscribe", "psubscribe"):
                pending -= 1
            else:
                self._handle(message)
        self.connects += 1
        self.machine.fire("confirmed")
        counts = f"{len(self.channels)} channel(s), {len(self.patterns)} pattern(s)"
        if again:
            self.trace.state(f"resubscribed to {counts} after a {gap:.1f} s gap (its messages are lost)")
        else:
            self.trace.state(f"subscribed to {counts}: {' '.join(self.channels + self.patterns)}")
        self._subscribed.set()
        self._changed.set()

    def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] not in ("message", "pmessage"):
            return  # (un)subscribe confirmations, pongs
        channel = _text(message["channel"])
        pattern = _text(message["pattern"]) if message["type"] == "pmessage" else None
        data = message["data"]
        try:
            envelope = decode(data, channel=channel)
        except EnvelopeError as exc:
            # Count it, say what was wrong, keep going: one bad publisher must not
            # take every subscriber of the channel down with it.
            self.invalid.append((channel, str(exc)))
            self.trace.state(f"invalid message on {channel}: {exc} ({len(self.invalid)} so far)",
                             [shorten(data)])
            self._changed.set()
            return
        delivery = Delivery(envelope, channel, pattern)
        self.deliveries.append(delivery)
        via = f" (via {pattern})" if pattern else ""
        # From Redis (peer), with the id the publisher's event carries (cid).
        self.trace.received(f"{channel} {envelope.id}{via}", [shorten(data, 200)],
                            peer="redis", cid=envelope.id)
        self._changed.set()
        if self.on_message is not None:
            try:
                self.on_message(delivery)
            except Exception as exc:  # the application's bug must not end the subscription
                self.trace.state(f"on_message failed for {envelope.id}: {exc!r}")

    async def close(self) -> None:
        """Unsubscribe by closing the connection, and stop reconnecting."""
        self._closing = True  # checked by the loops too: redis-py may swallow a cancel (streams.py)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5.0)

    async def __aenter__(self) -> Subscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


async def _quietly_close(pubsub: Any, client: Any) -> None:
    for closer in (pubsub.aclose, client.aclose):
        try:
            await closer()
        except (RedisError, OSError):
            pass


async def run_cli(args: argparse.Namespace) -> None:
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    subscriber = Subscriber(url_or_env(args.redis_url), channels=args.channel, patterns=args.pattern,
                            name=args.name, trace=trace)
    try:
        # The first connection must work (a wrong URL is a setup problem, not an outage).
        try:
            await subscriber.start(timeout=args.connect_timeout)
        except TimeoutError:
            raise SetupError(f"not subscribed within {args.connect_timeout} s",
                             "is redis-server running at --redis-url? (redis-cli -u URL ping)") from None
        if args.count:
            try:
                await subscriber.wait_for_count(args.count, timeout=args.timeout)
            except TimeoutError:
                pass
            got = len(subscriber.deliveries) + len(subscriber.invalid)
            check(got >= args.count, f"received {got} of {args.count} message(s) in {args.timeout} s")
        else:
            await asyncio.Event().wait()  # until Ctrl-C or SIGTERM (run_main cancels us: finally runs)
    finally:
        await subscriber.close()
        ids = " ".join(subscriber.received_ids)
        trace.state(f"received {len(subscriber.deliveries)} message(s), {len(subscriber.invalid)} invalid"
                    + (f": {ids}" if ids else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.subscriber")
    parser.add_argument("--redis-url", help="default: $REDIS_URL")
    parser.add_argument("--channel", action="append", default=[], help="SUBSCRIBE to it (repeatable)")
    parser.add_argument("--pattern", action="append", default=[], help="PSUBSCRIBE to it (repeatable)")
    parser.add_argument("--count", type=int, default=0,
                        help="exit after N messages (0: run until Ctrl-C or SIGTERM)")
    parser.add_argument("--timeout", type=float, default=30.0, help="with --count: fail after S seconds")
    parser.add_argument("--connect-timeout", type=float, default=10.0)
    parser.add_argument("--name", default="sub", help="name in the trace and in CLIENT LIST")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    if not args.channel and not args.pattern:
        parser.error("give at least one --channel or --pattern")
    run_main(lambda: run_cli(args))


if __name__ == "__main__":
    main()
