"""The six methods by name, in the order the lesson compares them.

Each entry says how to run its client and what the method promises, which is
what the demo checks and the lab's table reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import chunked, long_poll, short_poll, sse, webhook, ws


@dataclass(frozen=True)
class Method:
    name: str
    receive: object  # async (base_url, sink, stop, **options) -> None
    lossless: bool  # False: coalesces by design (only the latest value is served)
    browser: str  # can a page use it, and with what


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("short-poll", short_poll.receive, False, "yes: fetch() in a timer"),
    Method("long-poll", long_poll.receive, True, "yes: fetch() in a loop"),
    Method("sse", sse.receive, True, "yes: EventSource (reconnects and resumes by itself)"),
    Method("websocket", ws.receive, True, "yes: WebSocket (resume is the app's job)"),
    Method("webhook", webhook.receive, True, "no: a page cannot accept a POST"),
    Method("chunked", chunked.receive, True, "yes: fetch() + ReadableStream"),
)}
