"""A GraphQL-over-WebSocket server on our own protocol layer: ``ServerConnection`` driven by asyncio.

Reading order: messages -> transport_ws -> client -> auction -> feeds -> **server** -> demo.

The server end of ``transport_ws.py``, beside strawberry's: the ``websockets``
library carries the WebSocket, ``ServerConnection`` decides every protocol
question (which message may come now, which close code), and strawberry only
*executes* operations (``Schema.stream()``: parse, validate with the depth
limit, run the resolvers).  It serves the same auction schema, with the same
store and hub, so it joins strawberry's servers on one Redis::

    python -m learn_graphql.server --port 8002 --server-id s3 [--redis-url redis://...] [-v]

Per connection, one task reads messages and feeds them to the connection, and
one task (the writer) is the only one that writes: it sends whatever the
connection has queued, in order, then the close frame if the connection
decided to close.  Queries and mutations run in a task each; subscriptions
join a shared feed (``feeds.py``: one execution per event for everyone on the
same document), which only appends to outboxes, so a slow reader delays
nobody: past ``OUTBOX_LIMIT`` queued messages its connection is closed with
1008.  The init timeout is a timer here, because the pure layer reads no
clock: when it fires, ``init_timed_out()`` says whether to close with 4408.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing
from websockets.asyncio.server import ServerConnection as Socket
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from wirelab_common.errors import run_main
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace, shorten

from .auction.app import DEMO_TOKENS, user_for
from .auction.hub import Hub
from .auction.schema import build_schema
from .auction.store import MemoryStore, RedisStore
from .feeds import Feed, Feeds
from .messages import SUBPROTOCOL, summary
from .transport_ws import CompleteRequested, InitRequested, ServerConnection, SubscribeRequested

OUTBOX_LIMIT = 1024  # messages a connection may fall behind before it is closed (1008)


class Session:
    """One WebSocket: the pure connection, the operations it runs, and one writer task."""

    def __init__(self, socket: Socket, server: GraphQLServer) -> None:
        self.socket, self.server = socket, server
        self.connection = ServerConnection()
        self.context: dict[str, Any] = {"store": server.store, "hub": server.hub,
                                        "server_id": server.server_id, "user": None}
        self.operations: dict[str, asyncio.Task[None]] = {}  # queries and mutations
        self.feeds: dict[str, Feed] = {}  # subscriptions, shared with other sessions
        self.trace = server.trace
        self.wake = asyncio.Event()

    def kick(self) -> None:
        """Something is in the outbox (or the connection decided to close): wake the writer."""
        self.wake.set()

    def deliver(self, op_id: str, result_json: str) -> None:
        """A feed's result for one of our subscriptions; never waits (the writer sends it)."""
        self.connection.send_next_encoded(op_id, result_json)
        if len(self.connection.outbox) > OUTBOX_LIMIT:  # this reader keeps nobody else waiting
            self.connection.fail(1008, f"more than {OUTBOX_LIMIT} messages behind")
        self.kick()

    async def writer(self) -> None:
        """The only task that writes to the socket: every message in outbox order, then the close."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            for text in self.connection.data_to_send():
                if not self.trace.quiet:
                    self.trace.sent(shorten(summary(text), 100), [text], peer=self.context["user"])
                await self.socket.send(text)
            close = self.connection.close
            if close is not None:
                self.trace.state(f"closing with {close.code} {close.reason}")
                await self.socket.close(close.code, close.reason)
                return

    async def init_timer(self) -> None:
        await asyncio.sleep(self.server.init_timeout)
        if self.connection.init_timed_out() is not None:  # None: connection_init came in time
            self.kick()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.init_timer()), asyncio.create_task(self.writer())]
        try:
            async for text in self.socket:
                if isinstance(text, str) and not self.trace.quiet:
                    self.trace.received(shorten(summary(text), 100), [text], peer=self.context["user"])
                for event in self.connection.receive(text):
                    await self.handle(event)
                self.kick()
                if self.connection.close is not None:
                    with contextlib.suppress(TimeoutError, ConnectionClosed):
                        await asyncio.wait_for(asyncio.shield(tasks[1]), 2)  # the close frame goes out
                    break
        except ConnectionClosed:
            pass
        finally:
            for op_id, feed in list(self.feeds.items()):
                await self.server.feeds.leave(feed, self, op_id)  # the last one out closes the generator
            for task in [*tasks, *self.operations.values()]:
                task.cancel()
            await asyncio.gather(*tasks, *self.operations.values(), return_exceptions=True)

    async def handle(self, event: Any) -> None:
        if isinstance(event, InitRequested):
            user = user_for(self.server.tokens, event.payload.get("token"))
            if user is None:
                self.trace.state("connection_init refused: no valid token -> close 4403")
                self.connection.reject()
            else:
                self.context["user"] = user
                self.trace.state(f"connection_init accepted: {user}")
                self.connection.accept({"server": self.server.server_id, "user": user})
        elif isinstance(event, SubscribeRequested):
            if is_subscription(event.query, event.operation_name):
                self.feeds[event.id] = self.server.feeds.join(self, event.id, event.query, event.variables,
                                                               event.operation_name)
            else:
                self.operations[event.id] = asyncio.create_task(self.operation(event))
        elif isinstance(event, CompleteRequested):
            if (feed := self.feeds.pop(event.id, None)) is not None:
                await self.server.feeds.leave(feed, self, event.id)
            elif (task := self.operations.pop(event.id, None)) is not None:
                task.cancel()

    async def operation(self, op: SubscribeRequested) -> None:
        """A query or a mutation (or a document that does not parse): its own execution."""
        try:
            results = await self.server.schema.stream(op.query, variable_values=op.variables,
                                                      context_value=self.context,
                                                      operation_name=op.operation_name)
            async with aclosing(results):
                async for result in results:
                    if isinstance(result, PreExecutionError):  # refused before running: error ends it
                        self.connection.send_error(op.id, [e.formatted for e in result.errors or []])
                        self.kick()
                        return
                    payload: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        payload["errors"] = [e.formatted for e in result.errors]
                    self.connection.send_next(op.id, payload)
                    self.kick()
            self.connection.send_complete(op.id)
            self.kick()
        finally:
            self.operations.pop(op.id, None)


def is_subscription(query: str, operation_name: str | None) -> bool:
    """Whether the operation to run is a subscription (then it can share a feed)."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False  # run it alone: its own execution reports the syntax error
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


class GraphQLServer:
    def __init__(self, args: argparse.Namespace, trace: Trace) -> None:
        self.server_id, self.trace, self.init_timeout = args.server_id, trace, args.init_timeout
        self.tokens = dict(DEMO_TOKENS)
        self.hub = Hub()
        self.store = (RedisStore(self.hub, args.server_id, args.redis_url) if args.redis_url
                      else MemoryStore(self.hub, args.server_id))
        self.schema = build_schema()
        # Feeds run with no user: a subscription result here is the same for everyone (feeds.py).
        self.feeds = Feeds(self.schema, {"store": self.store, "hub": self.hub, "server_id": self.server_id,
                                         "user": None})

    async def session(self, socket: Socket) -> None:
        if socket.subprotocol != SUBPROTOCOL:  # the client offered none we speak
            await socket.close(1002, f"this server speaks only {SUBPROTOCOL}")
            return
        await Session(socket, self).run()


async def serve_forever(args: argparse.Namespace) -> None:
    trace = Trace(args.server_id, verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    if args.redis_url:
        await check_redis(args.redis_url)
    server = GraphQLServer(args, trace)
    await server.store.start()
    try:
        async with serve(server.session, args.host, args.port, subprotocols=[SUBPROTOCOL]) as listener:
            port = next(iter(listener.sockets)).getsockname()[1]
            announce(trace, f"ws://{args.host}:{port}/graphql")
            await asyncio.Future()  # until cancelled (SIGTERM, Ctrl-C)
    finally:
        with contextlib.suppress(Exception):
            await server.store.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_graphql.server",
                                     description=__doc__.split("\n")[0])
    add_server_options(parser, port=8002, loop=False)
    parser.add_argument("--server-id", default="s3", help="name in traces and in every bid it accepts")
    parser.add_argument("--redis-url", help="share lots and events with other servers through Redis")
    parser.add_argument("--init-timeout", type=float, default=3.0, help="seconds to wait for connection_init")
    args = parser.parse_args(argv)
    run_main(lambda: serve_forever(args))


if __name__ == "__main__":
    main()
