"""What every client does with what arrives: keep it in order, drop repeats, retry politely.

The six clients differ only in how events reach them; each hands every event to
a :class:`Sink`, which records when it arrived (for the lab's latency) and keeps
the *cursor*, the highest ``seq`` seen, that a client sends when it reconnects.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from wirelab_common.backoff import backoff_delay
from wirelab_common.wiretrace import Trace

from .feed import Event


@dataclass
class Sink:
    name: str
    trace: Trace
    cursor: int = 0  # highest seq taken: what a reconnecting client asks to start after
    got: list[tuple[Event, float]] = field(default_factory=list)  # (event, arrival time.time())
    repeats: int = 0
    reconnects: int = 0
    last_failure: str = ""  # why the last connection attempt failed (the lab reports it)
    on_event: Callable[[Event], None] | None = None

    def take(self, event: Event) -> bool:
        """Record ``event`` unless already seen (a retried webhook, a replay overlap)."""
        if event.seq <= self.cursor:
            self.repeats += 1
            return False
        arrived = time.time()
        self.got.append((event, arrived))
        self.cursor = event.seq
        self.trace.received(f"event seq={event.seq} price={event.price} "
                            f"({(arrived - event.made) * 1000:.1f} ms after it was made)")
        if self.on_event is not None:
            self.on_event(event)
        return True

    @property
    def seqs(self) -> list[int]:
        return [event.seq for event, _ in self.got]

    async def pause_after_failure(self, attempt: int, stop: asyncio.Event, why: str) -> None:
        """Wait before reconnecting (full-jitter backoff, 0.1 s doubling to 2 s), or until ``stop``."""
        self.reconnects += 1
        self.last_failure = why
        delay = backoff_delay(attempt, 0.1, 2.0, random)
        self.trace.state(f"{why}; reconnecting in {delay * 1000:.0f} ms from seq {self.cursor}")
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass


async def until_stopped(stop: asyncio.Event, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` until ``stop`` is set, without waiting for the next chunk to notice."""
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(chunks))
            await asyncio.wait([following, stopped], return_when=asyncio.FIRST_COMPLETED)
            if stopped.done():
                following.cancel()
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopped.cancel()
