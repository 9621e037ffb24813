"""The relay's Socket Mode side: agents' WebSockets, the public endpoint that posts events, the pump.

Reading order: relay / agent -> socket_mode -> **socket_hub** -> socket_agent -> demo.

- An agent of app APP connects to the agent port at ``/socket?app=APP`` (the
  same bearer token as tunnels) and gets ``{"type": "hello"}``; then
  envelopes, as text messages, and it answers ``{"envelope_id": ...}``.
- ``POST /events/APP`` on the public port (a JSON body) is an event for APP:
  it is queued and answered ``202 {"envelope_id": ...}`` at once; the
  platform, not the bot, owns it from then on.  ``GET /events/APP`` shows the
  counts (queued, in flight, acknowledged, redelivered, connections).
- One pump task per app runs :class:`socket_mode.Dispatcher`: it wakes on a
  publish, an ack, a connect or disconnect, or the next ack deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from wirelab_common.wiretrace import Trace

from .socket_mode import Dispatcher


class App:
    def __init__(self, name: str, ack_deadline: float, trace: Trace) -> None:
        self.name, self.trace = name, trace
        self.dispatcher = Dispatcher(ack_deadline=ack_deadline)
        self.sockets: dict[str, ServerConnection] = {}
        self.wake = asyncio.Event()
        self.pump_task = asyncio.create_task(self.pump())
        self.serial = 0

    async def pump(self) -> None:
        while True:
            now = time.monotonic()
            for late in self.dispatcher.expire(now):
                self.trace.state(f"{late.envelope_id} not acknowledged in time: to be sent again")
            for connection, envelope in list(self.dispatcher.deliveries(now)):
                self.trace.sent(f"{envelope.envelope_id} -> {connection} (attempt {envelope.retry_attempt}"
                                f"{', ' + envelope.retry_reason if envelope.retry_reason else ''})")
                try:
                    await self.sockets[connection].send(json.dumps(envelope.message()))
                except (ConnectionClosed, KeyError):
                    pass  # its handler is about to disconnect it, which puts the envelope back
            deadline = self.dispatcher.next_deadline()
            self.wake.clear()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                pass


class SocketHub:
    def __init__(self, trace: Trace, ack_deadline: float) -> None:
        self.trace, self.ack_deadline = trace, ack_deadline
        self.apps: dict[str, App] = {}

    def app(self, name: str) -> App:
        if name not in self.apps:
            self.apps[name] = App(name, self.ack_deadline, self.trace.child(f"socket/{name}"))
        return self.apps[name]

    async def agent_connected(self, ws: ServerConnection, name: str) -> None:
        app = self.app(name)
        app.serial += 1
        connection = f"{name}#{app.serial}"
        app.sockets[connection] = ws
        app.dispatcher.connect(connection)
        app.trace.state(f"{connection} connected ({len(app.sockets)} connections)")
        await ws.send(json.dumps({"type": "hello", "connection": connection}))
        app.wake.set()
        try:
            async for message in ws:
                try:
                    envelope_id = json.loads(message)["envelope_id"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(1008, "an acknowledgement is {\"envelope_id\": ...}")
                    break
                if app.dispatcher.ack(connection, envelope_id):
                    app.trace.received(f"ack {envelope_id} from {connection}")
                app.wake.set()
        except ConnectionClosed:
            pass
        finally:
            del app.sockets[connection]
            back = app.dispatcher.disconnect(connection)
            app.trace.state(f"{connection} gone; {len(back)} unacknowledged envelope(s) back in the queue")
            app.wake.set()

    async def public(self, scope: dict[str, Any], receive: Any, send: Any, name: str) -> None:
        app = self.app(name)
        if scope["method"] == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                payload = json.loads(body)
            except ValueError:
                return await json_response(send, 400, {"error": "the body must be JSON"})
            envelope_id = app.dispatcher.publish(payload)
            app.wake.set()
            return await json_response(send, 202, {"envelope_id": envelope_id})
        d = app.dispatcher
        counts = {"queued": len(d.queue), "in_flight": len(d.in_flight), "acked": d.acked,
                  "redelivered": d.redelivered, "connections": len(d.connections)}
        await json_response(send, 200, counts)


async def json_response(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
