"""(d) WebSocket: one upgraded connection, a text message per event, both ways.

The client opens ``/ws`` (HTTP ``Upgrade: websocket``, RFC 6455) and sends
one message first, ``{"resume": N}``: the protocol has no ``Last-Event-ID``,
so resuming after a reconnect is the application's job.  The server then sends
each event as a text message.  The channel is two-way, which is what the other
five lack; for a one-way feed that capability goes unused.

A first message that is not ``{"resume": <cursor>}`` closes the connection with
1008 (policy violation) and a reason; the server goes on serving the others.
"""

from __future__ import annotations

import asyncio
import json

import websockets
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from wirelab_common.wiretrace import Trace, shorten

from .feed import BadCursor, Event, Feed, parse_cursor
from .sink import Sink

PATH = "/ws"


def parse_resume(text: str, last: int) -> int:
    """The cursor of the client's first message, or BadCursor saying what is wrong."""
    try:
        message = json.loads(text)
    except ValueError:
        raise BadCursor("the first message must be JSON: {\"resume\": <seq>}") from None
    if not isinstance(message, dict) or not isinstance(message.get("resume"), int):
        raise BadCursor("the first message must be {\"resume\": <seq>}")
    return parse_cursor(str(message["resume"]), last)


def routes(feed: Feed, trace: Trace, heartbeat: float) -> list[WebSocketRoute]:
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        try:
            since = parse_resume(await asyncio.wait_for(socket.receive_text(), 10), feed.last)
        except (BadCursor, TimeoutError) as exc:
            reason = str(exc) or "no resume message within 10 s"
            trace.state(f"{PATH}: closing 1008: {reason}")
            await socket.close(1008, reason[:120])
            return
        except WebSocketDisconnect:
            return
        trace.state(f"{PATH}: open, resuming after seq {since}")
        # The client sends nothing more; reading its (empty) direction is how we learn it left.
        gone = asyncio.ensure_future(_drain(socket))
        cursor = since
        try:
            while not gone.done() and not feed.closed:
                events = await feed.wait_after(cursor, heartbeat)
                for event in events:
                    trace.sent(f"{PATH} TEXT seq={event.seq}", [shorten(event.json())])
                    await socket.send_text(event.json())
                cursor = events[-1].seq if events else cursor
            if feed.closed:
                await socket.close(1001, "server shutting down")  # 1001 Going Away: reconnect
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away while we were sending
        finally:
            gone.cancel()

    return [WebSocketRoute(PATH, ws)]


async def _drain(socket: WebSocket) -> None:
    try:
        while True:
            await socket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return


async def receive(base: str, sink: Sink, stop: asyncio.Event) -> None:
    url = base.replace("http://", "ws://", 1) + PATH
    attempt = 0
    while not stop.is_set():
        try:
            async with websockets.connect(url, open_timeout=5, compression=None) as socket:
                await socket.send(json.dumps({"resume": sink.cursor}))
                sink.trace.sent(f"TEXT {{\"resume\": {sink.cursor}}}",
                                [f"{k}: {v}" for k, v in socket.response.headers.raw_items()])
                attempt = 0
                stopped = asyncio.ensure_future(stop.wait())
                try:
                    while True:
                        message = asyncio.ensure_future(socket.recv())
                        await asyncio.wait([message, stopped], return_when=asyncio.FIRST_COMPLETED)
                        if stopped.done():
                            message.cancel()
                            return
                        sink.take(Event.from_json(message.result()))
                finally:
                    stopped.cancel()
        except websockets.InvalidStatus as exc:  # the upgrade was refused: an HTTP answer instead of 101
            why = f"handshake refused: HTTP {exc.response.status_code} instead of 101"
            await sink.pause_after_failure(attempt, stop, why)
            attempt += 1
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            await sink.pause_after_failure(attempt, stop, f"connection lost: {exc!r}")
            attempt += 1
