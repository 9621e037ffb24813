"""A GraphQL-over-WebSocket server on our own protocol layer: ``ServerConnection`` driven by asyncio.

Reading order: messages -> transport_ws -> client -> auction -> **server** -> demo.

The server end of ``transport_ws.py``, beside strawberry's: the ``websockets``
library carries the WebSocket, ``ServerConnection`` decides every protocol
question (which message may come now, which close code), and strawberry only
*executes* operations (``Schema.stream()``: parse, validate with the depth
limit, run the resolvers).  It serves the same auction schema, with the same
store and hub, so it joins strawberry's servers on one Redis::

    python -m learn_graphql.server --port 8002 --server-id s3 [--redis-url redis://...] [-v]

One task per connection reads messages and feeds them to the connection; one
task per operation streams its results.  The init timeout is a timer here,
because the pure layer reads no clock: when it fires, ``init_timed_out()``
says whether to close with 4408.
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

from wirelab_common.errors import run_main
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace, shorten

from .auction.app import DEMO_TOKENS, user_for
from .auction.hub import Hub
from .auction.schema import build_schema
from .auction.store import MemoryStore, RedisStore
from .messages import SUBPROTOCOL, summary
from .transport_ws import CompleteRequested, InitRequested, ServerConnection, SubscribeRequested


class Session:
    """One WebSocket: the pure connection, the operations it runs, and the socket's writes."""

    def __init__(self, socket: Socket, server: GraphQLServer) -> None:
        self.socket, self.server = socket, server
        self.connection = ServerConnection()
        self.context: dict[str, Any] = {"store": server.store, "hub": server.hub,
                                        "server_id": server.server_id, "user": None}
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.trace = server.trace

    async def flush(self) -> None:
        for text in self.connection.data_to_send():
            self.trace.sent(shorten(summary(text), 100), [text], peer=self.context["user"])
            await self.socket.send(text)
        close = self.connection.close
        if close is not None and self.socket.close_code is None:
            self.trace.state(f"closing with {close.code} {close.reason}")
            await self.socket.close(close.code, close.reason)

    async def init_timer(self) -> None:
        await asyncio.sleep(self.server.init_timeout)
        if self.connection.init_timed_out() is not None:  # None: connection_init came in time
            await self.flush()

    async def run(self) -> None:
        timer = asyncio.create_task(self.init_timer())
        try:
            async for text in self.socket:
                if isinstance(text, str):
                    self.trace.received(shorten(summary(text), 100), [text], peer=self.context["user"])
                for event in self.connection.receive(text):
                    self.handle(event)
                await self.flush()
                if self.connection.close is not None:
                    break
        except ConnectionClosed:
            pass
        finally:
            timer.cancel()
            for task in self.operations.values():
                task.cancel()  # the operation's generator closes: no leaked subscription
            await asyncio.gather(timer, *self.operations.values(), return_exceptions=True)

    def handle(self, event: Any) -> None:
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
            self.operations[event.id] = asyncio.create_task(self.operation(event))
        elif isinstance(event, CompleteRequested):
            task = self.operations.pop(event.id, None)
            if task is not None:
                task.cancel()

    async def operation(self, op: SubscribeRequested) -> None:
        """Stream one operation's results as ``next`` messages, then ``complete`` (or ``error``)."""
        try:
            results = await self.server.schema.stream(op.query, variable_values=op.variables,
                                                      context_value=self.context,
                                                      operation_name=op.operation_name)
            async with aclosing(results):
                async for result in results:
                    if isinstance(result, PreExecutionError):  # refused before running: error ends it
                        self.connection.send_error(op.id, [e.formatted for e in result.errors or []])
                        await self.flush()
                        return
                    payload: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        payload["errors"] = [e.formatted for e in result.errors]
                    self.connection.send_next(op.id, payload)
                    await self.flush()
            self.connection.send_complete(op.id)
            await self.flush()
        except ConnectionClosed:
            pass
        finally:
            self.operations.pop(op.id, None)


class GraphQLServer:
    def __init__(self, args: argparse.Namespace, trace: Trace) -> None:
        self.server_id, self.trace, self.init_timeout = args.server_id, trace, args.init_timeout
        self.tokens = dict(DEMO_TOKENS)
        self.hub = Hub()
        self.store = (RedisStore(self.hub, args.server_id, args.redis_url) if args.redis_url
                      else MemoryStore(self.hub, args.server_id))
        self.schema = build_schema()

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
