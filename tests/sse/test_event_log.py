"""The durable log under the replay window: sqlite3 in a temp dir, asyncio, the wake-up bell."""

from __future__ import annotations

import asyncio

import pytest

from learn_sse.event_log import EventLog, LogClosed

pytestmark = pytest.mark.memory


async def test_the_log_stores_events_and_a_reopened_log_continues_the_ids(tmp_path):
    log = EventLog.open(tmp_path, replay=3)
    stored = [await log.append("note", f'{{"n":{i}}}') for i in range(1, 6)]
    assert [e.id for e in stored] == [1, 2, 3, 4, 5]
    await log.aclose()

    again = EventLog.open(tmp_path, replay=3)
    assert (again.oldest_id, again.last_id) == (3, 5)
    assert [e.data for e in again.after(2)] == ['{"n":3}', '{"n":4}', '{"n":5}']
    assert (await again.append("note", "{}")).id == 6
    await again.aclose()


async def test_ids_are_never_reused_even_when_every_row_was_pruned(tmp_path):
    log = EventLog.open(tmp_path, replay=0)
    for _ in range(3):
        await log.append("note", "{}")
    await log.aclose()
    again = EventLog.open(tmp_path, replay=0)
    assert again.last_id == 3 and len(again.window) == 0
    assert (await again.append("note", "{}")).id == 4  # SQLite AUTOINCREMENT remembers
    await again.aclose()


async def test_waiters_wake_on_append_and_on_close(tmp_path):
    log = EventLog.open(tmp_path, replay=10)
    waiter = asyncio.create_task(log.wait_beyond(0))
    await asyncio.sleep(0.01)
    assert not waiter.done()  # nothing beyond 0 yet
    await log.append("note", "{}")
    assert await asyncio.wait_for(waiter, 1) is True

    closing = asyncio.create_task(log.wait_beyond(1))
    await asyncio.sleep(0.01)
    log.close()
    assert await asyncio.wait_for(closing, 1) is False  # woken to end its stream
    with pytest.raises(LogClosed):
        await log.append("note", "{}")
    await log.aclose()
