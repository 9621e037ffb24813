"""The viewer's /events stream on a real socket: every line once, resumable by Last-Event-ID, live."""

from __future__ import annotations

import http.client
import sys
import threading

import pytest

from wirelab_common.processes import start_server

pytestmark = pytest.mark.loopback


def read_messages(port, count, headers=None):
    """The first ``count`` SSE messages (id, data) of /events, with a bounded socket wait."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/events", headers=headers or {})
    response = conn.getresponse()
    assert response.getheader("content-type").startswith("text/event-stream")
    messages, current = [], {}
    try:
        while len(messages) < count:
            line = response.readline().decode().rstrip("\r\n")
            if line == "":
                if current:
                    messages.append((int(current["id"]), current["data"]))
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = value
    finally:
        conn.close()
    return messages


def test_every_whole_line_once_then_resume_after_last_event_id(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"n": 1}\n{"n": 2}\n{"n": 3}\n{"n": 4')  # the last line is still being written
    with start_server([sys.executable, "-m", "wirelab_common.viewer", str(path), "--port", "0"],
                      name="viewer") as server:
        assert read_messages(server.port, 3) == [(1, '{"n": 1}'), (2, '{"n": 2}'), (3, '{"n": 3}')]
        with path.open("a") as f:
            f.write('}\n{"n": 5}\n')
        assert read_messages(server.port, 2, {"Last-Event-ID": "3"}) == [(4, '{"n": 4}'), (5, '{"n": 5}')]


def test_a_line_appended_while_connected_is_sent_at_once(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("")  # a demo about to write
    with start_server([sys.executable, "-m", "wirelab_common.viewer", str(path), "--port", "0"],
                      name="viewer") as server:
        timer = threading.Timer(0.5, lambda: path.write_text('{"n": 1}\n'))
        timer.start()
        try:
            assert read_messages(server.port, 1) == [(1, '{"n": 1}')]
        finally:
            timer.cancel()
