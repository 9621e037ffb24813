"""A Chromium page (the auction's own page, graphql-transport-ws by hand on the browser's WebSocket)
against strawberry on two servers: a bid placed on s1 appears on a page connected to s2."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.differential


def bid(ws_url: str, token: str, amount: int) -> None:
    query = f'mutation {{ placeBid(lot: "lamp", amount: {amount}) {{ seq }} }}'
    result = subprocess.run([sys.executable, "-m", "learn_graphql.client", "--url", ws_url, "--token", token,
                             "--query", query, "-q"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_page_on_s2_shows_a_bid_placed_on_s1(module_auction, chromium_page):
    auction = module_auction
    page = chromium_page
    page.goto(auction.http("s2").replace("/graphql", "/?token=bob-token&lot=lamp"))
    page.wait_for_selector("body[data-state=subscribed]", timeout=10_000)
    bid(auction.ws("s1"), "alice-token", 33)
    page.wait_for_selector("li:has-text('alice bid 33 (taken by s1)')", timeout=10_000)


def test_the_page_can_bid_itself_and_sees_its_own_bid(module_auction, chromium_page):
    auction = module_auction
    page = chromium_page
    page.goto(auction.http("s1").replace("/graphql", "/?token=carol-token&lot=lamp"))
    page.wait_for_selector("body[data-state=subscribed]", timeout=10_000)
    page.fill("#amount", "44")
    page.click("button")
    page.wait_for_selector("li:has-text('carol bid 44 (taken by s1)')", timeout=10_000)


def test_a_page_with_a_stolen_token_sees_close_4403(one_server, chromium_page):
    page = chromium_page
    page.goto(one_server.http().replace("/graphql", "/?token=stolen"))
    page.wait_for_selector("body[data-state='closed 4403']", timeout=10_000)
