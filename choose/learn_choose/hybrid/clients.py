"""The demo's clients: an SSE subscriber that resumes on another server, and a WebSocket sender.

Reading order: signature -> envelope -> fanout -> stream -> app -> server -> upstream ->
**clients** -> demo.

:class:`SseSubscriber` does what a browser's ``EventSource`` does (WHATWG HTML
§9.2.3), which is what the demo needs to *check* it: it remembers the last
``id:``, waits ``retry:`` ms after a stream ends or fails, and reconnects with
``Last-Event-ID``.  One difference: its list of servers stands in for a load
balancer, so a reconnect goes to the next server in the list.  Chromium's own
EventSource is tested against the same server in tests/choose/test_hybrid.py.

:class:`WsSender` is the trader: it sends ``{"id", "type", "data"}`` messages and
waits for each one's ack; the same socket brings it the feed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import httpx
import websockets

from wirelab_common.errors import CheckFailed
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace, shorten

from ..sse import SseEvent, SseParser  # the one SSE parser of this pattern (choose's method (c))


class SseSubscriber:
    """Reads ``/events`` from ``servers[0]``; on an end or an error, resumes on the next server.

    ``resume=False`` forgets the last id on reconnect (the demo's ``--no-last-event-id``),
    so what a resume prevents becomes visible: a hole.
    """

    def __init__(self, name: str, servers: list[str], trace: Trace, resume: bool = True,
                 show_events: bool = True) -> None:
        self.name = name
        self.show_events = show_events  # False: connection lines only (the demo shows one subscriber's)
        self.servers = servers
        self.trace = trace
        self.resume = resume
        self.events: list[SseEvent] = []
        self.connects: list[str] = []  # the server of each connection, in order
        self.parser = SseParser()
        self._task: asyncio.Task[None] | None = None
        self._open = asyncio.Event()

    @property
    def feed(self) -> list[SseEvent]:
        """The events proper, without ``reset`` notices."""
        return [event for event in self.events if event.type != "reset"]

    async def start(self, timeout: float = 10.0) -> SseSubscriber:
        self._task = asyncio.create_task(self._run(), name=f"sse-{self.name}")
        await asyncio.wait_for(self._open.wait(), timeout)
        return self

    async def _run(self) -> None:
        server = 0
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None),
                                     headers={"user-agent": f"{self.name} (hybrid)"}) as client:
            while True:
                base = self.servers[server]
                headers = {"accept": "text/event-stream"}
                if self.resume and self.parser.last_id:
                    headers["last-event-id"] = self.parser.last_id
                try:
                    await self._read(client, base, headers)
                    why = "stream ended"
                except httpx.HTTPError as exc:
                    why = f"{type(exc).__name__}"
                server = (server + 1) % len(self.servers)
                delay = (self.parser.retry_ms or 1000) / 1000
                self.trace.state(f"{why}; reconnect to {self.servers[server]} in {delay:.1f} s"
                                 + (f" with Last-Event-ID: {self.parser.last_id}" if self.resume else ""))
                await asyncio.sleep(delay)

    async def _read(self, client: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
        async with client.stream("GET", f"{base}/events", headers=headers) as response:
            if response.status_code != 200:
                raise httpx.HTTPStatusError(f"{response.status_code}", request=response.request,
                                            response=response)
            self.connects.append(base)
            self.trace.state(f"connected to {base}" + (
                f" (Last-Event-ID: {headers['last-event-id']})" if "last-event-id" in headers else ""))
            self._open.set()
            async for line in response.aiter_lines():
                event = self.parser.line(line)
                if event is not None:
                    event.at = time.monotonic()
                    self.events.append(event)
                    if self.show_events:
                        self.trace.received(f"id: {event.id} event: {event.type} {shorten(event.data, 50)}",
                                            [f"data: {event.data}"], peer="fanout", cid=event.id)

    async def wait_count(self, count: int, timeout: float) -> None:
        await eventually_async(lambda: len(self.feed) >= count, timeout,
                               f"{self.name} has {count} events (it has {len(self.feed)})")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class WsSender:
    """A client that also sends: one WebSocket for its messages, their acks, and the feed."""

    def __init__(self, name: str, server: str, trace: Trace) -> None:
        self.name = name
        self.url = server.replace("http://", "ws://") + f"/ws?client={name}"
        self.trace = trace
        self.acks: dict[str, dict] = {}
        self._waiting: dict[str, asyncio.Future[dict]] = {}  # message id -> its ack, when it comes
        self.events: list[dict] = []
        self._ids = itertools.count(1)
        self._ws: websockets.ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> WsSender:
        self._ws = await websockets.connect(self.url, open_timeout=10)
        self.trace.state(f"WebSocket open to {self.url}")
        self._reader = asyncio.create_task(self._read(), name=f"ws-{self.name}")
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            await self._receive_all()
        except websockets.ConnectionClosed:
            pass
        self.trace.state(f"WebSocket closed: code {self._ws.close_code} {self._ws.close_reason}".rstrip())

    async def _receive_all(self) -> None:
        assert self._ws is not None
        async for text in self._ws:
            message = json.loads(text)
            if message["kind"] == "ack":
                self.acks[message["id"]] = message
                waiter = self._waiting.pop(message["id"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                self.trace.received(f"ack {message['id']} -> {message['event_id']}",
                                    [str(text)], peer="fanout", cid=message["event_id"])
            elif message["kind"] == "event":
                self.events.append(message)
            else:
                self.trace.received(shorten(text, 70), peer="fanout")

    async def send(self, type_: str, data: object, timeout: float = 10.0) -> dict:
        """Send one message and return its ack (:class:`CheckFailed` if none comes in time)."""
        assert self._ws is not None
        message_id = str(next(self._ids))
        text = json.dumps({"id": message_id, "type": type_, "data": data})
        self._waiting[message_id] = asyncio.get_running_loop().create_future()
        self.trace.sent(text, peer="fanout", cid=message_id)
        await self._ws.send(text)
        try:
            return await asyncio.wait_for(self._waiting[message_id], timeout)
        except TimeoutError:
            raise CheckFailed(f"{self.name}: no ack for message {message_id} within {timeout:g} s "
                              "(is Redis up? the server's lines say)") from None

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
