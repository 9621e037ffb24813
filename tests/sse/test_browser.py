"""The page in headless Chromium: the browser's own EventSource is the peer under test.

The browser does by itself what our server relies on (WHATWG HTML §9.2.3
"Processing model"): it honours the ``retry:`` hint, reconnects when the stream
ends, and sends ``Last-Event-ID`` so that the server replays what it missed.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.differential

WAIT_MS = 10_000


def text_is(page, selector: str, value: str) -> None:
    page.wait_for_function("([sel, value]) => document.querySelector(sel).textContent === value",
                           arg=[selector, value], timeout=WAIT_MS)


def logged(page) -> list[tuple[str, str]]:
    """(id, type) of every row of the page's log, oldest first (the page prepends new rows)."""
    rows = page.eval_on_selector_all("#log li", "rows => rows.map(r => [r.dataset.id, r.dataset.type])")
    return [tuple(row) for row in reversed(rows)]


def test_the_page_shows_live_feed_events_by_type_with_their_ids(sse_server, chromium_page):
    server = sse_server(tick="0.1")
    page = chromium_page
    page.goto(server.url("/"))
    text_is(page, "#status", "open")
    page.wait_for_function("document.querySelectorAll('#log li').length >= 4", timeout=WAIT_MS)
    rows = logged(page)[:4]
    first = int(rows[0][0])  # the page starts live: its first id is whatever was next
    assert [int(event_id) for event_id, _ in rows] == list(range(first, first + 4))
    assert {kind for _, kind in rows} == {"price", "news", "status"}
    assert int(page.text_content("#last-id")) >= first + 3


def test_the_browser_reconnects_by_itself_and_resumes_without_gaps_or_duplicates(sse_server, chromium_page):
    first = sse_server("--retry-ms", "300")
    page = chromium_page
    page.goto(first.url("/"))
    text_is(page, "#status", "open")
    for i in range(1, 4):
        first.publish("note", {"n": i})
    text_is(page, "#last-id", "3")

    assert first.proc.stop() == 0  # the stream ends; the page keeps trying every 300 ms
    text_is(page, "#status", "connecting")
    # While the page cannot connect, events go into the same log through another port.
    offline = sse_server(data_dir=first.data_dir)
    assert [offline.publish("news", {"n": i}) for i in range(4, 7)] == [4, 5, 6]
    assert offline.proc.stop() == 0

    back = sse_server("--retry-ms", "300", port=first.port)  # same port, same --data-dir
    text_is(page, "#last-id", "6")  # replayed: the browser sent Last-Event-ID: 3
    text_is(page, "#status", "open")
    assert back.publish("note", {"n": 7}) == 7
    text_is(page, "#last-id", "7")
    assert logged(page) == [("1", "note"), ("2", "note"), ("3", "note"),
                            ("4", "news"), ("5", "news"), ("6", "news"), ("7", "note")]
    assert "resumed from id 3" in back.proc.output()
