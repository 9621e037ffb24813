"""The agent: dials OUT to the relay over WebSocket and serves each stream from a local app.

Reading order: frames -> mux -> session -> routing -> relay / **agent** -> demo.

Run: ``python -m learn_tunnel.agent --relay ws://127.0.0.1:8021 --name demo
--to http://127.0.0.1:8022``.  Nothing listens here: the agent's machine needs
no public address and no inbound port, only a way out to the relay.

For each stream the relay opens, :meth:`Agent.serve_stream` makes the request
to the local app with httpx, *streaming* both ways: the request body is read
from the stream's DATA as the app consumes it (each chunk acknowledged only
once httpx took it, so a slow app slows only its own upload), and the
response body is sent as it comes, waiting for window updates when the
public client reads slowly.  A ``RST_STREAM`` from the relay (the public
client went away, or the relay gave up: 504) cancels the local request.

The connection is kept up: when it drops (relay restart, network), the agent
waits ``backoff.backoff_delay`` (exponential, full jitter) and dials again,
registering its name anew.  A wrong token (401) ends the agent: retrying
will not fix it.  A taken name (409) is retried, since the holder may be a
previous run of this agent whose connection the relay has not yet seen close.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import CheckFailed, SetupError, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from . import upgrade
from .frames import MAX_FRAME_SIZE
from .mux import INITIAL_WINDOW, Connection, DataReceived, HeadersReceived, StreamReset
from .routing import end_to_end
from .session import MAX_MESSAGE, Session, SessionGone

DEFAULT_TOKEN = "wirelab-tunnel-token"
SMALL_BODY = MAX_FRAME_SIZE  # a response body up to this size (and of known length) goes with its head


class Agent:
    def __init__(self, relay: str, name: str, token: str, local: str, trace: Trace, *,
                 show_data: bool = False, base_delay: float = 0.2, max_delay: float = 5.0,
                 rng: random.Random | None = None, window: int = INITIAL_WINDOW,
                 reconnect: bool = True) -> None:
        self.url = f"{relay.rstrip('/')}/connect?name={name}"
        self.name, self.token, self.local = name, token, local.rstrip("/")
        self.trace, self.show_data = trace, show_data
        self.base_delay, self.max_delay = base_delay, max_delay
        self.rng = rng or random.Random()
        self.window, self.reconnect = window, reconnect
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))

    async def run_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                   max_size=2 * MAX_MESSAGE, open_timeout=5, compression=None) as ws:
                    attempt = 0  # connected: the next failure starts the schedule again
                    public = ws.response.headers.get("X-Tunnel-URL", "?")
                    self.trace.state(f"registered as {self.name}: {public} -> {self.local}",
                                     always=True)  # the agent's ready line, printed even with -q
                    conn = Connection(opener=False, initial_window=self.window)
                    session = Session(ws, conn, self.trace, show_data=self.show_data)
                    session.on_open = lambda event, s=session: self.serve_stream(s, event)
                    try:
                        await session.run()
                    except asyncio.CancelledError:  # SIGTERM or Ctrl-C: say goodbye with 1001
                        await ws.close(1001, "agent shutting down")
                        raise
                    for task in list(session.tasks):
                        task.cancel()  # their public requests got a 502 from the relay already
            except InvalidStatus as exc:
                status = exc.response.status_code
                text = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
                if status == 401:
                    raise SetupError(f"the relay refused the token: {text}",
                                     "pass the relay's --token (or set WIRELAB_TUNNEL_TOKEN)") from None
                self.trace.state(f"relay refused the tunnel: HTTP {status} {text}")
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.trace.state(f"cannot reach the relay: {exc or type(exc).__name__}")
            if not self.reconnect:
                raise CheckFailed("the tunnel ended and --no-reconnect is set: the agent stops")
            delay = backoff_delay(attempt, self.base_delay, self.max_delay, self.rng)
            attempt += 1
            self.trace.state(f"reconnecting in {delay:.2f} s (retry {attempt})")
            await asyncio.sleep(delay)

    async def serve_stream(self, session: Session, opened: HeadersReceived) -> None:
        stream_id, head = opened.stream_id, opened.head
        label = f"stream {stream_id}: {head.get('method')} {head.get('path')}"
        if head.get("upgrade") == "websocket":
            return await self.serve_websocket(session, stream_id, head, label)
        body_done = asyncio.Event()
        if opened.end_stream:
            body_done.set()

        async def request_body():
            while not body_done.is_set():
                event = await session.next_event(stream_id)
                if isinstance(event, StreamReset):
                    raise SessionGone(f"reset by the relay: {event.reason}")
                if isinstance(event, DataReceived):
                    if event.data:
                        yield event.data
                        await session.acknowledge(stream_id, len(event.data))  # httpx took it
                    if event.end_stream:
                        body_done.set()

        work = asyncio.create_task(self.forward(session, stream_id, head, request_body(), label,
                                                opened.end_stream))
        try:
            await body_done.wait() if not work.done() else None
            watch = asyncio.create_task(session.next_event(stream_id))  # only a reset can come now
            done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            if watch in done:
                work.cancel()  # a reset (or the end of the tunnel): stop the local request
            watch.cancel()
            await asyncio.gather(work, return_exceptions=True)
        finally:
            work.cancel()
            reset = session.resets.pop(stream_id, None)
            if reset is not None:
                self.trace.state(f"{label}: cancelled by the relay ({reset.code.name} {reset.reason})")
            session.forget(stream_id)

    async def serve_websocket(self, session: Session, stream_id: int, head: dict, label: str) -> None:
        """Open the WebSocket to the local app first; answer 101 only if it accepted (``upgrade.py``)."""
        url = "ws" + self.local.removeprefix("http") + head.get("path", "/")
        try:
            try:
                local = await connect(url, subprotocols=head.get("subprotocols") or None, open_timeout=5)
            except InvalidStatus as exc:
                await session.send_headers(stream_id, {"status": exc.response.status_code}, end_stream=True)
                return
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.trace.state(f"{label}: local WebSocket failed: {exc!r}")
                await session.send_headers(stream_id, {"status": 502}, end_stream=True)
                return
            async with local:
                self.trace.state(f"{label} -> 101 WebSocket (subprotocol {local.subprotocol})")
                await session.send_headers(stream_id, {"status": 101, "subprotocol": local.subprotocol})
                await upgrade.first_done(upgrade.local_to_stream(session, stream_id, local),
                                         upgrade.stream_to_local(session, stream_id, local))
        except SessionGone:
            pass
        finally:
            session.forget(stream_id)

    async def forward(self, session: Session, stream_id: int, head: dict, body, label: str,
                      opened_empty: bool) -> None:
        headers = [(k, v) for k, v in end_to_end([tuple(h) for h in head.get("headers", [])])]
        # httpx.Request, not client.build_request: a proxy passes the public client's headers as
        # they came.  build_request would add the client's defaults (Accept-Encoding: gzip, so an app
        # could compress for a client that never asked; Connection; User-Agent) and the cookies in
        # the client's jar, which the app set for *other* public clients.  client.send still applies
        # the client's timeouts.
        request = httpx.Request(head.get("method", "GET"), self.local + head.get("path", "/"),
                                headers=headers, content=None if opened_empty else body)
        try:
            response = await self.client.send(request, stream=True)
        except (httpx.HTTPError, SessionGone) as exc:
            self.trace.state(f"{label}: local app failed: {exc!r}")
            if stream_id in session.conn.streams:
                failed = {"status": 502, "headers": [["content-type", "text/plain"]]}
                await session.send_headers(stream_id, failed, flush=False)  # leaves with the body
                await session.send_body(stream_id, f"the agent could not reach {self.local}\n".encode(), True)
            return
        try:
            self.trace.state(f"{label} -> {response.status_code}")
            raw = [list(h) for h in response.headers.multi_items()]
            head = {"status": response.status_code, "headers": raw}
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) <= SMALL_BODY:
                # A small body of known length: read it whole, then HEADERS and DATA END_STREAM go
                # in one WebSocket message.  Sent apart, they cost a second write here, and a second
                # wake-up and parse in the relay, for every small response (README, Benchmark).  An
                # app that declares a small length and then dawdles delays only its own head.
                body = b"".join([chunk async for chunk in response.aiter_raw()])
                await session.send_headers(stream_id, head, flush=False)
                await session.send_body(stream_id, body, end_stream=True)
                return
            await session.send_headers(stream_id, head)  # now: a streamed body may be slow to come
            held = b""  # one chunk held back, so that the last one carries END_STREAM
            async for chunk in response.aiter_raw():
                if held:
                    await session.send_body(stream_id, held)
                held = chunk
            await session.send_body(stream_id, held, end_stream=True)
        except SessionGone:
            pass
        finally:
            await response.aclose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.agent", description=__doc__.split("\n")[0])
    parser.add_argument("--relay", default="ws://127.0.0.1:8021", help="the relay's agent port (ws://...)")
    parser.add_argument("--name", default="demo", help="the tunnel name to register (one DNS label)")
    parser.add_argument("--to", default="http://127.0.0.1:8022", help="the local app to forward to")
    parser.add_argument("--token", default=os.environ.get("WIRELAB_TUNNEL_TOKEN", DEFAULT_TOKEN),
                        help="bearer token for the relay (env WIRELAB_TUNNEL_TOKEN)")
    parser.add_argument("--frames", action="store_true", help="trace DATA and WINDOW_UPDATE frames too")
    parser.add_argument("--window", type=int, default=INITIAL_WINDOW,
                        help="per-stream flow-control window in bytes; the relay must use the same")
    parser.add_argument("--no-reconnect", action="store_true", help="exit when the tunnel ends")
    add_verbosity(parser)
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> None:
    trace = Trace("agent", args.verbose, quiet=args.quiet)
    agent = Agent(args.relay, args.name, args.token, args.to, trace, show_data=args.frames,
                  window=args.window, reconnect=not args.no_reconnect)
    await agent.run_forever()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: amain(args))


if __name__ == "__main__":
    main(sys.argv[1:])
