"""The replay window, pure: what did a client that last saw id N miss?

The durable log under it (SQLite, the wake-up bell) is in test_event_log.py.
"""

from __future__ import annotations

import pytest

from learn_sse.event_log import AheadOfLog, Event, EventWindow, TooOld

pytestmark = pytest.mark.pure


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
