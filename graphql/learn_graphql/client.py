"""A small GraphQL-over-WebSocket client: ``transport_ws.ClientConnection`` driven by asyncio.

Reading order: messages -> transport_ws -> **client** -> auction -> feeds -> server -> demo.

The ``websockets`` library carries the WebSocket (RFC 6455 is the websocket
pattern's lesson); everything above it, the ``graphql-transport-ws`` messages,
is ours: this module reads each text message, feeds it to the pure
:class:`~learn_graphql.transport_ws.ClientConnection`, hands the events to
whoever waits for them, and sends what the connection wants sent::

    async with connect("ws://127.0.0.1:8000/graphql", {"token": "alice-token"}) as client:
        print(await client.execute("{ lots { id highestBid } }"))
        async for result in client.subscribe('subscription { bids(lot: "lamp") { amount } }'):
            ...

    python -m learn_graphql.client --url ws://127.0.0.1:8000/graphql --token alice-token \\
        --query 'subscription { bids(lot: "lamp") { amount bidder } }' --count 2 [-v]

Trace: ``> alice subscribe #1 ...``, ``< alice next #1 {...}``; ``-v`` adds the
whole JSON text of every message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection as Socket
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from wirelab_common.errors import CheckFailed, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace, shorten

from .messages import summary
from .transport_ws import (
    SUBPROTOCOL,
    Acknowledged,
    ClientConnection,
    Close,
    Completed,
    Next,
    OperationError,
)


class ConnectionEnded(Exception):
    """The WebSocket closed; ``code`` and ``reason`` are the server's close frame."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed: code {code} {reason!r}")
        self.code, self.reason = code, reason


class OperationFailed(Exception):
    """The server answered an operation with ``error`` (or ``next`` with errors only)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


_END = object()


class GraphQLClient:
    """One connection; many operations at once, each with its own queue of results."""

    def __init__(self, socket: Socket, connection: ClientConnection, trace: Trace) -> None:
        self.socket, self.connection, self.trace = socket, connection, trace
        self.ack = asyncio.get_running_loop().create_future()
        # A client that never sent connection_init never awaits the ack: mark its failure as seen.
        self.ack.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.ended = asyncio.get_running_loop().create_future()
        self.queues: dict[str, asyncio.Queue[Any]] = {}
        self.ids = (str(n) for n in itertools.count(1))  # "1", "2", ...: readable in the trace
        self.reader: asyncio.Task[None] | None = None
        self.peer: str | None = None

    async def flush(self) -> None:
        for text in self.connection.data_to_send():
            self._trace(self.trace.sent, text)
            await self.socket.send(text)

    def _trace(self, mark: Any, text: str) -> None:
        # peer: the server's name from its connection_ack, so a viewer can pair both ends' lines.
        mark(shorten(summary(text), 100), [text], peer=self.peer)

    async def read(self) -> None:
        """The reader task: every message through the pure connection, events to their queues."""
        try:
            async for text in self.socket:
                if isinstance(text, str):
                    self._trace(self.trace.received, text)
                for event in self.connection.receive(text):
                    self._dispatch(event)
                await self.flush()  # pongs
                if self.connection.close is not None:
                    close = self.connection.close
                    self.trace.state(f"closing with {close.code} {close.reason}")
                    await self.socket.close(close.code, close.reason)
        except ConnectionClosed:
            pass
        finally:
            code, reason = self.socket.close_code, self.socket.close_reason or ""
            self.trace.state(f"connection closed: code {code} {reason}".rstrip())
            error = ConnectionEnded(code, reason)
            if not self.ack.done():
                self.ack.set_exception(error)
            if not self.ended.done():
                self.ended.set_result(error)
            for queue in self.queues.values():
                queue.put_nowait(error)

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, Acknowledged):
            self.peer = (event.payload or {}).get("server")
            self.ack.set_result(event.payload)
        elif isinstance(event, Next):
            self.queues[event.id].put_nowait(event.payload)
        elif isinstance(event, OperationError):
            self.queues[event.id].put_nowait(OperationFailed(event.errors))
        elif isinstance(event, Completed):
            self.queues[event.id].put_nowait(_END)
        elif isinstance(event, Close):
            pass  # handled after the events: the close frame goes out last

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None, *,
                        op_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Each ``next`` payload of one operation; leaving the loop early sends ``complete``."""
        op_id = op_id or next(self.ids)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.queues[op_id] = queue
        self.connection.subscribe(op_id, query, variables)
        await self.flush()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.queues.pop(op_id, None)
            if op_id in self.connection.running and self.connection.close is None and not self.ended.done():
                self.connection.complete(op_id)
                with contextlib.suppress(ConnectionClosed):
                    await self.flush()

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """A query or a mutation: its one result's ``data`` (errors raise :class:`OperationFailed`)."""
        results = [r async for r in self.subscribe(query, variables)]
        if not results:
            raise CheckFailed(f"the server completed {shorten(query, 40)!r} without a result")
        if results[0].get("errors"):
            raise OperationFailed(results[0]["errors"])
        return results[0]["data"]

    async def send_raw(self, text: str) -> None:
        """Send any text, even one the protocol forbids (the demo's bad-input acts)."""
        self.trace.sent(f"(raw) {shorten(text)}", [text])
        await self.socket.send(text)

    async def closed(self, timeout: float) -> ConnectionEnded:
        """Wait, at most ``timeout`` seconds, for the server to close the connection."""
        return await asyncio.wait_for(asyncio.shield(self.ended), timeout)


@contextlib.asynccontextmanager
async def connect(url: str, payload: dict[str, Any] | None = None, *, trace: Trace | None = None,
                  init: bool = True, ack_timeout: float = 5.0) -> AsyncIterator[GraphQLClient]:
    """Open the WebSocket with the ``graphql-transport-ws`` subprotocol, send ``connection_init``
    (unless ``init=False``) and wait for the ack."""
    trace = trace or Trace("client")
    async with ws_connect(url, subprotocols=[SUBPROTOCOL], open_timeout=5, close_timeout=2) as socket:
        trace.state(f"WebSocket open to {url}, subprotocol {socket.subprotocol}")
        if socket.subprotocol != SUBPROTOCOL:  # RFC 6455 §1.9: the server picked none of ours
            raise CheckFailed(f"{url} does not speak {SUBPROTOCOL} (it chose {socket.subprotocol!r})")
        client = GraphQLClient(socket, ClientConnection(payload), trace)
        if init:
            await client.flush()
        else:
            client.connection.data_to_send()  # the connection_init stays unsent: the server will time out
        client.reader = asyncio.create_task(client.read())
        try:
            if init:
                ack = await asyncio.wait_for(asyncio.shield(client.ack), ack_timeout)
                trace.state(f"acknowledged{f' {ack}' if ack else ''}")
            yield client
        finally:
            await socket.close()
            await client.reader


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_graphql.client",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/graphql")
    parser.add_argument("--token", help="sent in the connection_init payload as {\"token\": ...}")
    parser.add_argument("--query", required=True, help="a query, mutation or subscription")
    parser.add_argument("--variables", default=None, help="JSON object")
    parser.add_argument("--count", type=int, default=0, help="stop a subscription after N results")
    parser.add_argument("--name", default="client", help="actor name in the trace")
    add_verbosity(parser)
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    variables = json.loads(args.variables) if args.variables else None
    payload = {"token": args.token} if args.token else {}
    async with connect(args.url, payload, trace=trace) as client:
        seen = 0
        async for result in client.subscribe(args.query, variables):
            print(json.dumps(result), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break


if __name__ == "__main__":
    run_main(main)
