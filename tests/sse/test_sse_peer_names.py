"""How the two ends of an SSE stream name each other in the structured events (pure)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from learn_sse.app import peer_name
from learn_sse.client import user_agent

pytestmark = pytest.mark.pure


def request(agent: bytes | None) -> Request:
    headers = [(b"user-agent", agent)] if agent is not None else []
    return Request({"type": "http", "method": "GET", "path": "/events", "headers": headers})


@pytest.mark.parametrize(("agent", "name"), [
    (user_agent("client").encode(), "client"),
    (b"curl/8.5.0", "curl"),
    (b"Mozilla/5.0 (X11; Linux x86_64) Chrome/120", "Mozilla"),
    (b"", None),
    (None, None),
])
def test_the_server_names_a_client_by_the_first_product_of_its_user_agent(agent, name):
    assert peer_name(request(agent)) == name


def test_our_client_puts_its_actor_name_first():
    assert user_agent("client") == "client (learn_sse)"
    assert user_agent("") == "client (learn_sse)"
