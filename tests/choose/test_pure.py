"""The pure parts: cursors, the SSE parser, NDJSON line splitting, the resume message, the lab's table."""

from __future__ import annotations

import pytest

from learn_choose import chart, lab, report
from learn_choose.chunked import split_lines
from learn_choose.feed import BadCursor, Event, Feed, parse_cursor
from learn_choose.sse import SseParser, frame
from learn_choose.webhook import parse_subscription
from learn_choose.ws import parse_resume

pytestmark = pytest.mark.pure


def test_cursor_bounds():
    assert parse_cursor(None, 5) == 0 and parse_cursor("", 5) == 0 and parse_cursor("5", 5) == 5
    for bad in ("-1", "x", "1.5", "6", "9" * 30):
        with pytest.raises(BadCursor):
            parse_cursor(bad, 5)


def test_the_log_survives_a_restart_through_its_journal(tmp_path):
    first = Feed(tmp_path / "events.jsonl")
    first.publish(3)
    again = Feed(tmp_path / "events.jsonl")
    assert again.last == 3 and [e.seq for e in again.publish(1)] == [4]
    assert [e.seq for e in again.since(2)] == [3, 4]


def test_the_sse_parser_reads_our_frames_split_anywhere_and_any_line_ending():
    wire = frame(Event(7, 1.5, 100.25)) + b": ping\r\n\r\nid: 8\rdata: a\rdata: b\r\r\n"
    for cut in range(len(wire)):
        parser = SseParser()
        events = parser.feed(wire[:cut]) + parser.feed(wire[cut:])
        assert events == [("7", Event(7, 1.5, 100.25).json()), ("8", "a\nb")], cut


def test_ndjson_lines_split_across_chunks():
    lines, rest = split_lines(b"", b'{"a":1}\n{"b"')
    assert lines == [b'{"a":1}'] and rest == b'{"b"'
    lines, rest = split_lines(rest, b':2}\n\n')
    assert lines == [b'{"b":2}'] and rest == b""


def test_resume_and_subscription_messages():
    assert parse_resume('{"resume": 3}', 5) == 3
    for bad in ("3", '{"resume": "3"}', "[]", '{"resume": 9}'):
        with pytest.raises(BadCursor):
            parse_resume(bad, 5)
    assert parse_subscription(b'{"url": "http://127.0.0.1:9/hook"}', 0) == ("http://127.0.0.1:9/hook", 0)
    with pytest.raises(BadCursor):
        parse_subscription(b'{"url": "file:///etc/passwd"}', 0)


def test_the_table_the_chart_and_the_readme_embedding():
    row = lab.Row("sse", events=6, received=6, p50_ms=2.0, p99_ms=3.0, bytes_per_event=80,
                  idle_rpm=0, scale={100: {"rss_kib": 40.0, "fds": 1.0}}, nginx_default="ok", browser="yes")
    text = report.markdown([row], "2026-01-01 00:00 UTC on here", 1.0, "python -m learn_choose.lab", "bursts")
    assert "| latency p50 event -> client | 2.0 ms |" in text
    assert "| server fds per client at 100 | 1.00 |" in text
    assert "after a server restart" not in text  # a row nobody measured is left out
    svg = chart.svg([row], "2026-01-01 00:00 UTC on here")
    assert svg.startswith("<svg") and "made 2026-01-01 00:00 UTC on here" in svg
    readme = f"intro\n{report.BEGIN}\nTHE-OLD-TABLE\n{report.END}\nafter\n"
    embedded = report.embed(readme, text)
    assert "THE-OLD-TABLE" not in embedded and "| measure | sse |" in embedded
    assert embedded.endswith(f"{report.END}\nafter\n")
