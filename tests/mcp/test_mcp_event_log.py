"""The session's SSE event logs (sessions.py): a server-side pause, what an id can resume, expiry."""

from __future__ import annotations

import pytest

from learn_mcp import sessions
from learn_mcp.sessions import EventStream, Session

pytestmark = pytest.mark.memory


async def drain(events) -> list[str]:
    return [data async for _id, data in events]


async def test_pause_ends_a_reader_that_has_not_started_yet():
    stream = EventStream("s1")
    stream.append("")  # priming
    reader = stream.follow()  # the POST's response, not streaming yet
    stream.pause()  # a tool closes the connection first
    stream.append("progress")
    stream.append("response")
    stream.close()
    assert await drain(reader) == [""]  # the priming event only: the rest waits for the client
    assert await drain(stream.follow(0)) == ["progress", "response"]  # GET + Last-Event-ID: s1-0


async def test_a_reader_started_after_a_pause_is_not_ended_by_it():
    stream = EventStream("s1")
    stream.append("")
    stream.pause()
    resumed = stream.follow(0)
    stream.append("response")
    stream.close()
    assert await drain(resumed) == ["response"]


def test_knows_only_ids_it_can_continue_from(monkeypatch):
    monkeypatch.setattr(sessions, "MAX_EVENTS", 3)
    stream = EventStream("s1")
    for n in range(5):
        stream.append(str(n))  # events 2, 3, 4 kept; 0 and 1 fell off the front
    assert stream.knows(1) and stream.knows(4)  # after 1: 2, 3, 4 are all there
    assert not stream.knows(0)  # event 1 is gone: a replay would have a gap
    assert not stream.knows(5)  # never sent


def test_closed_streams_expire(monkeypatch):
    session = Session("abcdefgh12345678")
    old = session.new_stream()
    old.close()
    monkeypatch.setattr(sessions, "STREAM_TTL", 0.5)
    old.closed_at -= 1  # closed a second ago, longer than the TTL
    assert session.find(old.id) is None  # a Last-Event-ID naming it is refused (404)
    running = session.new_stream()
    running.close()
    assert session.find(running.id) is running  # closed just now: still resumable
