"""Fan-out inside one server process: each subscription gets its own bounded queue.

Reading order: schema -> **hub** -> store -> app -> server.

A strawberry subscription resolver is an async generator; the WebSocket
handler pulls ``next`` messages from it.  The hub is what feeds those
generators: ``publish()`` puts an event into the queue of every subscription
whose topic matches, and ``listen(topic)`` is the generator's source.

Two rules keep one subscriber from hurting the others:

- **bounded queues**: ``publish()`` never waits.  A subscriber whose queue is
  full (it reads slower than events come) is cut off: its stream ends with
  :class:`SlowSubscriber`, which strawberry sends as an error in a ``next``
  message, and the others go on at full speed;
- **no leaks**: ``listen()`` removes its queue in ``finally``, which runs when
  the client sends ``complete`` or disconnects (strawberry closes the
  generator), so ``active`` counts exactly the subscriptions that still run.
  The tests read it through the ``stats`` query.

Where the events come from (this process's mutations, or Redis pub/sub carrying
every server's) is the store's business (``store.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class SlowSubscriber(Exception):
    """This subscriber fell ``limit`` events behind and was cut off."""


class Hub:
    """Topic -> live subscription queues, in one process."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self.queues: dict[str, set[asyncio.Queue[Any]]] = {}
        self.dropped = 0  # subscriptions cut off for being slow

    @property
    def active(self) -> int:
        """Subscriptions whose generator is still running."""
        return sum(len(queues) for queues in self.queues.values())

    def publish(self, topic: str, event: Any) -> int:
        """Hand ``event`` to every subscription of ``topic``; never blocks.  Returns how many got it."""
        delivered = 0
        for queue in list(self.queues.get(topic, ())):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                self._cut_off(topic, queue)
        return delivered

    def _cut_off(self, topic: str, queue: asyncio.Queue[Any]) -> None:
        # Out of the topic, so no later publish touches it; then room for one marker,
        # which the generator raises when it reaches it (its finally cleans up the rest).
        self.queues[topic].discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(SlowSubscriber(f"more than {self.queue_size} events behind: cut off"))
        self.dropped += 1

    async def listen(self, topic: str) -> AsyncIterator[Any]:
        """The events of ``topic`` from now on, until the consumer stops iterating."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self.queue_size)
        self.queues.setdefault(topic, set()).add(queue)
        try:
            while True:
                event = await queue.get()
                if isinstance(event, SlowSubscriber):
                    raise event
                yield event
        finally:
            members = self.queues.get(topic, set())
            members.discard(queue)
            if not members:
                self.queues.pop(topic, None)
