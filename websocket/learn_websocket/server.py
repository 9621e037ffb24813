"""A WebSocket server written from scratch on asyncio (RFC 6455 §4.2, §7).

Reading order: handshake -> opening -> frames -> protocol -> aio -> **server** / client.

For each TCP connection, ``aio.OpeningProtocol`` feeds the request head to an
``opening.ServerOpening``, which checks it with ``handshake.py`` and answers
``101 Switching Protocols`` (or an HTTP error that says what was wrong); then a
:class:`~learn_websocket.aio.WebSocket` takes over the connection and the
application's handler runs with it.  The default handler echoes every message.

Both are ``asyncio.Protocol`` objects rather than streams (``start_server``):
the loop hands each chunk of bytes straight to our code, so a message costs
one task switch (into the handler), not two; and no byte read after the
request head can be stranded in a stream's buffer when the WebSocket takes over.

Run it::

    python -m learn_websocket.server --port 8765 -v      # -v: headers and frame bytes too

It takes the options of every wirelab server (``--host``, ``--port``, 0 for any
free port, ``--loop``, ``-v``, ``-q``) and prints ``= server   listening on
ws://HOST:PORT`` once it accepts connections.

A broken client (garbage instead of a handshake, a protocol error, a
handler that crashes) costs only its own connection.  On SIGTERM or SIGINT
every open connection is closed with 1001 "going away" (§7.4.1).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

from .aio import ConnectionClosed, OpeningProtocol, WebSocket
from .echo_fast import EchoWebSocket, wait_for_close
from .frames import CloseCode, FrameParser
from .frames_fast import FastFrameParser
from .opening import ServerOpening
from .protocol import DEFAULT_MAX_MESSAGE_SIZE, State

Handler = Callable[[WebSocket], Awaitable[None]]
PARSERS: dict[str, type[FrameParser]] = {"fast": FastFrameParser, "plain": FrameParser}
OPEN_TIMEOUT = 10.0  # a client that sends no complete handshake by then is dropped


async def echo(ws: WebSocket) -> None:
    """The default handler: send every message back as it came."""
    async for message in ws:
        await ws.send(message)


# --echo: the handler and the WebSocket class that runs it.  "plain" is the lesson above;
# "fast" (echo_fast.py) echoes from the protocol callback, without a task switch per message.
ECHOES: dict[str, tuple[Handler, type[WebSocket]]] = {"fast": (wait_for_close, EchoWebSocket),
                                                      "plain": (echo, WebSocket)}

# The other end in the structured trace events: the name client.py's trace gives itself.
PEER = "client"

class Server:
    """A listening WebSocket server; ``await server.close()`` closes every connection with 1001."""

    def __init__(self, handler: Handler, *, subprotocols: Sequence[str], max_message_size: int | None,
                 parser: type[FrameParser], auto_pong: bool,
                 trace: Trace | None, open_timeout: float, websocket: type[WebSocket] = WebSocket) -> None:
        self.handler = handler
        self.websocket = websocket
        self.subprotocols = tuple(subprotocols)
        self.max_message_size = max_message_size
        self.parser = parser
        self.auto_pong = auto_pong
        self.trace = trace
        self.open_timeout = open_timeout
        self.connections: set[WebSocket] = set()
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def new_connection(self) -> OpeningProtocol:
        """For each accepted TCP connection: the opening handshake first (§4.2)."""
        options = dict(max_message_size=self.max_message_size, parser=self.parser, auto_pong=self.auto_pong)
        opening = ServerOpening(self.subprotocols, options,
                                self.open_timeout)
        return OpeningProtocol(opening, self.trace, self.start_handler, on_fail=lambda error: None,
                               peer=PEER, websocket=self.websocket)

    def start_handler(self, ws: WebSocket) -> None:
        task = asyncio.get_running_loop().create_task(self._run_handler(ws))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, ws: WebSocket) -> None:
        self.connections.add(ws)
        try:
            await self.handler(ws)
        except ConnectionClosed:
            pass  # the peer went away while the handler was busy: nothing left to do
        except Exception as exc:  # a bug in one handler must not take the server down
            print(f"error: handler failed: {exc!r}", file=sys.stderr, flush=True)
            if ws.connection.state is State.OPEN:
                await ws.close(CloseCode.INTERNAL_ERROR, "internal error")  # §7.4.1: 1011
        finally:
            await ws.close()  # no-op if already closed; otherwise the handler returned: 1000
            self.connections.discard(ws)

    async def close(self, code: int = CloseCode.GOING_AWAY, reason: str = "going away") -> None:
        """Stop listening, close every connection with ``code``, wait for the handlers."""
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(ws.close(code, reason) for ws in list(self.connections)),
                             return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=OPEN_TIMEOUT)

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve(handler: Handler = echo, host: str = "127.0.0.1", port: int = 0, *,
                subprotocols: Sequence[str] = (), max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
                trace: Trace | None = None, open_timeout: float = OPEN_TIMEOUT,
                parser: type[FrameParser] = FastFrameParser, auto_pong: bool = True,
                websocket: type[WebSocket] = WebSocket) -> Server:
    """Listen on ``host:port`` (0: any free port, see ``server.port``) and run ``handler`` per client.

    ``trace=None`` prints nothing (the fast path); pass ``Trace("server")`` to see every frame.
    ``parser=frames.FrameParser`` reads frames with the lesson's parser instead of the fast one.
    ``websocket`` is the class that runs each open connection (``echo_fast.EchoWebSocket``
    echoes by itself, with ``echo_fast.wait_for_close`` as the handler).
    """
    server = Server(handler, subprotocols=subprotocols, max_message_size=max_message_size,
                    parser=parser, auto_pong=auto_pong, trace=trace, open_timeout=open_timeout,
                    websocket=websocket)
    loop = asyncio.get_running_loop()
    server._server = await loop.create_server(server.new_connection, host, port)
    return server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.server",
                                     description="The hand-rolled RFC 6455 echo server.")
    add_server_options(parser, port=8765)  # --host --port --loop -v -q, as every wirelab server
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_MESSAGE_SIZE,
                        help="largest message accepted, in bytes; bigger ones close with 1009")
    parser.add_argument("--subprotocol", action="append", default=[], help="a subprotocol to accept")
    parser.add_argument("--no-pong", action="store_true",
                        help="never answer a ping (play a dead peer: the demo's --no-pong)")
    parser.add_argument("--parser", choices=PARSERS, default="fast",
                        help="frame parser: fast (frames_fast.py, default) or plain (frames.py, the lesson)")
    parser.add_argument("--echo", choices=ECHOES, default="fast",
                        help="echo: fast (echo_fast.py, from the protocol callback, default) "
                             "or plain (the echo() handler above, the lesson)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    if args.port != 0:
        ensure_port_free(args.host, args.port)  # a clear SetupError instead of a traceback
    trace = Trace("server", verbose=args.verbose, quiet=args.quiet)
    try:
        # Quiet: no Trace at all for the connections, so no frame is even formatted (the fast path).
        handler, websocket = ECHOES[args.echo]
        server = await serve(handler, args.host, args.port, subprotocols=args.subprotocol,
                             max_message_size=args.max_size, trace=None if args.quiet else trace,
                             parser=PARSERS[args.parser], auto_pong=not args.no_pong, websocket=websocket)
    except OSError as exc:
        raise SetupError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
                         "pass another --port (or 0 for any free port)") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    announce(trace, f"ws://{args.host}:{server.port}")
    await stop.wait()
    trace.state(f"shutting down: closing {len(server.connections)} connection(s) with 1001")
    await server.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
