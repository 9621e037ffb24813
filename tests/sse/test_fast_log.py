"""The paced bell (fast_log.py) beside the lesson's event log: every waiter woken, the same events.

Many subscribers follow each log the way ``app.subscribe`` does (``after`` the
cursor, then ``wait_beyond`` it) while events are appended, some while the
subscribers are still waking from the previous bell; each subscriber of the
paced log must see exactly the events a subscriber of the lesson's log sees,
and closing either log must end every waiter.
"""

from __future__ import annotations

import asyncio

import pytest

from learn_sse.event_log import EventLog
from learn_sse.fast_log import SLICE, PacedBell, PacedEventLog

pytestmark = pytest.mark.memory


async def test_a_ring_wakes_every_waiter_one_slice_per_loop_turn_in_waiting_order():
    bell, woken = PacedBell(), []

    async def waiter(n: int) -> None:
        await bell.wait()
        woken.append(n)

    count = 2 * SLICE + 5
    tasks = [asyncio.create_task(waiter(n)) for n in range(count)]
    await asyncio.sleep(0)  # every task is waiting now
    tasks[3].cancel()  # a client gone: skipped, not an error
    bell.ring()
    late = asyncio.create_task(waiter(-1))  # began to wait after the ring: the next ring's
    await asyncio.sleep(0)
    # The first slice only (less the cancelled one): the loop turns before the next slice wakes.
    assert woken == [n for n in range(SLICE) if n != 3]
    await asyncio.gather(*tasks, return_exceptions=True)
    assert woken == [n for n in range(count) if n != 3]
    assert not late.done()
    bell.ring()
    await late
    assert woken[-1] == -1


async def follow(log: EventLog, seen: list[int]) -> None:
    cursor = log.last_id
    while True:
        missed = log.after(cursor)
        assert isinstance(missed, list)
        if missed:
            seen.extend(event.id for event in missed)
            cursor = missed[-1].id
        if not await log.wait_beyond(cursor):
            return


@pytest.mark.parametrize("subscribers", [1, SLICE + 1, 5 * SLICE])
async def test_subscribers_of_both_logs_see_the_same_events_and_end_on_close(tmp_path, subscribers):
    results = {}
    for name, kind in (("lesson", EventLog), ("paced", PacedEventLog)):
        log = kind.open(tmp_path / name, replay=1000)
        seen: list[list[int]] = [[] for _ in range(subscribers)]
        tasks = [asyncio.create_task(follow(log, s)) for s in seen]
        await asyncio.sleep(0)
        for n in range(40):
            await log.append("note", f'{{"n":{n}}}')
            if n % 3 == 0:
                await asyncio.sleep(0)  # sometimes mid-wake: the next event finds waiters still asleep
        await asyncio.sleep(0.05)
        log.close()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)  # every waiter ended by the close
        await log.aclose()
        results[name] = seen
    assert results["paced"] == results["lesson"] == [list(range(1, 41))] * subscribers
