"""The replay window (pure) and the durable log under it (sqlite3 in a temp dir, asyncio).

Layer 1 of the test pyramid: no server, no sockets.  The window answers "what did a
client that last saw id N miss?"; the log adds durability and the wake-up bell.
"""

from __future__ import annotations

import asyncio

import pytest

from learn_sse.event_log import AheadOfLog, Event, EventLog, EventWindow, LogClosed, TooOld


def events(first: int, last: int) -> list[Event]:
    return [Event(i, "note", f'{{"n":{i}}}') for i in range(first, last + 1)]


def ids(result) -> list[int]:
    assert isinstance(result, list), result
    return [event.id for event in result]


def test_an_empty_window_has_nothing_after_zero():
    window = EventWindow(capacity=3)
    assert (window.oldest_id, window.last_id, len(window)) == (1, 0, 0)
    assert window.after(0) == []


def test_a_client_gets_exactly_the_events_after_its_last_id():
    window = EventWindow(capacity=10, last_id=5, events=events(1, 5))
    assert ids(window.after(2)) == [3, 4, 5]
    assert ids(window.after(0)) == [1, 2, 3, 4, 5]
    assert window.after(5) == []  # up to date


def test_appending_past_the_capacity_prunes_the_oldest_event():
    window = EventWindow(capacity=3)
    for event in events(1, 5):
        window.append(event)
    assert (window.oldest_id, window.last_id, len(window)) == (3, 5, 3)
    assert ids(window.after(2)) == [3, 4, 5]  # one behind the window: nothing it missed is gone


def test_a_client_behind_the_window_is_told_too_old():
    window = EventWindow(capacity=3, last_id=5, events=events(3, 5))
    assert window.after(1) == TooOld(requested=1, oldest_available=3)
    assert window.after(1).reason == "last-event-id too old"


def test_an_id_never_issued_is_ahead_of_the_log():
    window = EventWindow(capacity=3, last_id=5, events=events(3, 5))
    assert window.after(9) == AheadOfLog(requested=9, last_id=5)


def test_a_zero_capacity_window_replays_nothing_but_keeps_counting():
    window = EventWindow(capacity=0, last_id=7)
    window.append(Event(8, "note", "{}"))
    assert (window.oldest_id, window.last_id, len(window)) == (9, 8, 0)
    assert window.after(8) == [] and window.after(7) == TooOld(7, 9)


def test_ids_must_stay_contiguous():
    window = EventWindow(capacity=3, last_id=2, events=events(1, 2))
    with pytest.raises(ValueError, match="expected event id 3"):
        window.append(Event(5, "note", "{}"))
    with pytest.raises(ValueError, match="contiguous"):
        EventWindow(capacity=3, last_id=4, events=[Event(1, "a", ""), Event(4, "a", "")])


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
