"""Headless Debian Chromium receives the feed by each browser-capable method (static/page.html).

The browser's own fetch, EventSource and WebSocket are the peers under test; the
page appends every seq it takes to ``#seqs``.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.differential

WAIT_MS = 10_000


def seqs_are(page, text: str) -> None:
    page.wait_for_function("want => document.querySelector('#seqs').textContent === want", arg=text,
                           timeout=WAIT_MS)


def wait_connected(server, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = server.stats()
        if stats["open"] - 1 >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the page did not connect: {stats}")


@pytest.mark.parametrize("method", ["long-poll", "sse", "websocket", "chunked"])
def test_the_browser_receives_every_event(method, feed_server, chromium_page):
    server = feed_server()
    chromium_page.goto(f"{server.base}/?method={method}")
    wait_connected(server)
    server.publish(3)
    server.publish(3)
    seqs_are(chromium_page, "1,2,3,4,5,6")


def test_the_browser_polling_with_fetch_sees_the_last_of_each_burst(feed_server, chromium_page):
    server = feed_server()
    chromium_page.goto(f"{server.base}/?method=short-poll")
    chromium_page.wait_for_function("document.querySelector('#status').textContent === 'polling'",
                                    timeout=WAIT_MS)
    server.publish(3)
    seqs_are(chromium_page, "3")
    server.publish(3)
    seqs_are(chromium_page, "3,6")


def test_eventsource_resumes_by_itself_with_last_event_id_after_a_restart(feed_server, chromium_page):
    first = feed_server()
    chromium_page.goto(f"{first.base}/?method=sse")
    wait_connected(first)
    first.publish(3)
    seqs_are(chromium_page, "1,2,3")
    assert first.proc.stop() == 0
    again = feed_server(port=first.port)
    again.publish(3)  # made before the browser is back: it asks for them with Last-Event-ID: 3
    seqs_are(chromium_page, "1,2,3,4,5,6")
