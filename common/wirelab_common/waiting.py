"""Wait until something is true, bounded, and say what was awaited when it never is.

Every wait in wirelab ends, and ends with a reason.  Instead of writing the
same loop again (``deadline = time.monotonic() + 5; while ...: sleep``)::

    eventually(lambda: worker.done() == 2000, 30, "all 2,000 jobs done")
    await eventually_async(lambda: peer.connected, 5, "the peer connected")

The predicate's last truthy value is returned; on time-out, :class:`NotInTime`
names what was awaited and for how long, and the last value the predicate gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NotInTime(AssertionError):
    """The awaited condition did not hold within the time allowed.

    An AssertionError, so that pytest shows it as a failed check, not a crash.
    """


def _explain(what: str, timeout: float, last: object) -> str:
    return f"{what}: not within {timeout:g} s (last seen: {last!r})"


def eventually(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Call ``predicate`` until it returns something truthy; at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise NotInTime(_explain(what, timeout, value))
        time.sleep(interval)


async def eventually_async(predicate: Callable[[], T | Awaitable[T]], timeout: float, what: str,
                           interval: float = 0.05) -> T:
    """The same inside an event loop; ``predicate`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise NotInTime(_explain(what, timeout, value))
        await asyncio.sleep(interval)
