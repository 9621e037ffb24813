"""The browser as a chat client: headless Chromium on the page the chat server serves.

These tests are synchronous (playwright's sync API); the Python side of the
conversation uses the ``websockets`` library's sync client.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

pytestmark = pytest.mark.differential


def next_matching(ws, predicate, timeout: float = 5.0) -> dict:
    while True:
        msg = json.loads(ws.recv(timeout=timeout))
        if predicate(msg):
            return msg


def test_page_and_python_client_talk_in_one_room(chat_server, chromium_page):
    server = chat_server()
    page = chromium_page
    page.goto(f"{server.http_url}/?token=alice-token")
    expect(page.locator("#status")).to_have_text("closed")
    page.fill("#room", "lobby")
    page.click("#connect")
    expect(page.locator("#status")).to_have_text("open")
    expect(page.locator("#log")).to_contain_text("alice joined lobby")

    with connect(f"{server.ws_url}?token=bob-token", proxy=None) as bob:
        assert json.loads(bob.recv(timeout=5))["type"] == "welcome"
        bob.send(json.dumps({"type": "join", "room": "lobby"}))
        next_matching(bob, lambda m: m["type"] == "joined" and m["user"] == "bob")

        bob.send(json.dumps({"type": "say", "room": "lobby", "text": "hello from python"}))
        expect(page.locator("#log")).to_contain_text("[lobby] bob: hello from python")

        page.fill("#text", "hello from chromium <b>not bold</b>")
        page.click("#send")
        got = next_matching(bob, lambda m: m["type"] == "message" and m["from"] == "alice")
        assert got["text"] == "hello from chromium <b>not bold</b>"
        # Chat text is shown as text, never parsed as HTML.
        expect(page.locator("#log b")).to_have_count(0)


def test_page_shows_closed_when_the_token_is_refused(chat_server, chromium_page):
    server = chat_server()
    page = chromium_page
    page.goto(f"{server.http_url}/?token=wrong")
    page.click("#connect")
    # The browser hides the HTTP 401 from the page: it only sees an abnormal close.
    expect(page.locator("#status")).to_have_text("closed (1006)")
    server.proc.wait_line(r"rejected .*HTTP 401")


def test_page_from_a_foreign_origin_is_refused(chat_server, chromium_page):
    """A page of server A (another port: another origin) opens a WebSocket to server B."""
    server_a, server_b = chat_server(server_id="a"), chat_server(server_id="b")
    page = chromium_page
    page.goto(server_a.http_url)
    open_socket = """url => new Promise(resolve => {
        const ws = new WebSocket(url);
        ws.onopen = () => { resolve("open"); ws.close(); };
        ws.onclose = event => resolve(event.code);
    })"""
    assert page.evaluate(open_socket, f"{server_b.ws_url}?token=alice-token") == 1006
    server_b.proc.wait_line(rf"rejected .*HTTP 403 \(origin {server_a.http_url} is not allowed\)")
    # The same page may talk to its own server.
    assert page.evaluate(open_socket, f"{server_a.ws_url}?token=alice-token") == "open"
