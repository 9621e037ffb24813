"""A deterministic live feed: something to stream when nobody is publishing.

Reading order: event_stream -> event_log -> **feed** -> completions -> app -> server;
then client; then the page; then proxy.

Every ``--tick`` seconds the server appends one event to the log, rotating three
event types, so a page shows several ``event:`` names (WHATWG HTML §9.2.6
"Interpreting an event stream": the ``event`` field picks which listeners run)::

    tick 1  price   {"tick":1,"symbol":"WLAB","price":"99.96"}
    tick 2  news    {"tick":2,"headline":"Bulletin #1: WLAB at 99.94 after 2 ticks"}
    tick 3  status  {"tick":3,"state":"ok","uptime_ticks":3}
    tick 4  price   {"tick":4,"symbol":"WLAB","price":"99.96"}

The content is a function of the tick counter only: no randomness and no clock, so
two runs print the same feed and tests can predict it.  ``FeedGenerator`` is that
pure part; ``run_feed`` is the asyncio task that paces it and appends to the log.

Candour: the counter starts at 1 in every process, so after a restart the feed
says "tick 1" again (with a new, higher event id: ids come from the log, never from
the feed).  A real feed would read its source's own sequence number instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from .event_log import EventLog, LogClosed

SYMBOL = "WLAB"
START_PRICE_CENTS = 10_000
FEED_TYPES = ("price", "news", "status")


def price_step(n: int) -> int:
    """The price change at tick ``n`` in cents, in -6..+6; it looks random but is not."""
    return (n * 7919) % 13 - 6  # 7919 is prime: the steps cycle through all 13 values


class FeedGenerator:
    """Tick counter -> (event type, data); a price walk kept in integer cents (no float drift)."""

    def __init__(self) -> None:
        self.tick = 0
        self.price_cents = START_PRICE_CENTS
        self.bulletins = 0

    def price(self) -> str:
        """A decimal string, as money is usually sent: no binary-float surprises in JSON."""
        return f"{self.price_cents // 100}.{self.price_cents % 100:02d}"

    def next_event(self) -> tuple[str, dict[str, object]]:
        self.tick += 1
        n = self.tick
        self.price_cents += price_step(n)  # the walk moves every tick, shown every third
        kind = FEED_TYPES[(n - 1) % len(FEED_TYPES)]
        if kind == "price":
            return kind, {"tick": n, "symbol": SYMBOL, "price": self.price()}
        if kind == "news":
            self.bulletins += 1
            return kind, {"tick": n, "headline": f"Bulletin #{self.bulletins}: "
                                                 f"{SYMBOL} at {self.price()} after {n} ticks"}
        return kind, {"tick": n, "state": "ok", "uptime_ticks": n}


def encode_data(data: object) -> str:
    """Compact JSON, the form stored in the log and sent in ``data:`` lines."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def run_feed(log: EventLog, tick: float,
                   sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Append one feed event every ``tick`` seconds until cancelled or the log closes."""
    generator = FeedGenerator()
    while True:
        await sleep(tick)
        kind, data = generator.next_event()
        try:
            await log.append(kind, encode_data(data))  # the log traces what it stores
        except LogClosed:
            return
