"""The official SDK client hears our server's background requests on the GET stream (2025-11-25).

``remind`` answers at once and asks the user later, when no POST stream of the client's is
open, so ``elicitation/create`` can only travel on the session's GET stream (http_get.py).
With ``--sse-poll-ms`` the server ends every GET response once the client has caught up:
the request is appended while nobody listens, and reaches the SDK only because its
reconnection sends ``Last-Event-ID``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult

from mcp import ClientSession
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.differential


@pytest.mark.timeout(60)
@pytest.mark.parametrize("poll", [False, True], ids=["held-open", "polled"])
async def test_sdk_client_answers_a_background_elicitation_on_the_get_stream(wire, poll):
    asked: list[str] = []

    async def on_elicitation(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"keep": True})

    proc, url = wire.start_http_server("-v", *(["--sse-poll-ms", "100"] if poll else []))
    with proc:
        async with streamable_http_client(url) as (read, write), \
                ClientSession(read, write, elicitation_callback=on_elicitation) as session:
            await session.initialize()
            scheduled = await session.call_tool("remind", {"about": "buy bread", "after": 0.5})
            assert scheduled.structured_content == {"scheduled": True}  # answered; the question comes later
            await eventually_async(lambda: asked, 20, "the reminder's elicitation/create")
            assert asked == ["Reminder: buy bread. Keep it as a note?"]

            async def kept() -> bool:
                found = await session.call_tool("search_notes", {"query": "buy bread"})
                return bool(found.structured_content["notes"])

            await eventually_async(kept, 10, "the reminder kept as a note")
        log = proc.output()
    assert re.search(r"> mcp +SSE GET #s1 elicitation/create", log), log[-3000:]  # on the GET stream
    if poll:
        assert re.search(r"resuming stream \S+ after event \d+", log), log[-3000:]
