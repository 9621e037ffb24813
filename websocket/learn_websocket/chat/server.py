"""The chat server process: command line, uvicorn, heartbeats and a graceful shutdown.

Reading order: schema -> hub -> broker -> app -> handlers -> **server**; then client; then the page.

    python -m learn_websocket.chat.server --port 8000 --server-id s1 \\
        [--redis-url redis://127.0.0.1:6379/0] [--token alice=alice-token ...] \\
        [--allow-origin http://example.test ...] [--ping-interval 20] [--ping-timeout 20] \\
        [--queue-size 256] [--plain] [--loop auto] [-v | -q]

It prints ``= s1       listening on http://127.0.0.1:8000`` once it accepts connections.

Things an ASGI app cannot do for itself are done here (the last two, and the
heartbeat's trace line, in :class:`ChatWebSocketProtocol`, our subclass of
uvicorn's WebSocket protocol):

- **Heartbeats** (RFC 6455 §5.5.2): uvicorn sends a ping every ``--ping-interval``
  seconds and, if no pong comes back within ``--ping-timeout``, closes with 1011
  and drops the TCP connection.  A peer that vanished without a FIN (a laptop lid
  closed, a NAT entry expired) would otherwise hold its member slot forever.
  Browsers and the ``websockets`` library answer pings by themselves.
- **Shutdown with 1001**: on SIGTERM uvicorn would close every WebSocket with 1012
  "service restart".  This server first stops accepting, then has the hub flush and
  close every client with 1001 "going away" (§7.4.1), then lets uvicorn finish; the
  process exits 0.  (uvicorn also re-raises the signal after a clean shutdown, which
  would make the exit status "killed by SIGTERM"; we install our own handler.)
- **Ready line**: printed only after the socket is bound and Redis is subscribed.
- **A bad ``Sec-WebSocket-Version``** gets 426 with ``Sec-WebSocket-Version: 13``
  (§4.4): the websockets library answers the handshake before any ASGI code runs.
- **Invalid UTF-8** in a text message: close 1007 and one trace line, not a traceback.

By default each message takes ``fast.py``'s shorter path (written to the socket
at once while the member's outbox is empty, read a few messages ahead; with
``--quiet`` and no Redis, a valid ``say`` parsed and answered in fewer steps); ``--plain``
runs the lesson's (``hub.py``: every message through the outbox's pump task; one
message read at a time, as uvicorn does).

The event loop is uvloop when it is installed (``--loop auto``), because that is
what ``uvicorn app:app`` does when installed as ``uvicorn[standard]``: it is how
this app would normally be deployed.  ``--loop asyncio`` runs on the standard
library's loop instead.  ``--quiet`` prints only the ready line and errors (on
stderr): no trace line, and no formatting work for one, per message (benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from wirelab_common.asgi_server import LogBridge, TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from ..handshake import VERSION
from .app import DEMO_TOKENS, Settings, create_app
from .fast import FLUSH_EVERY, READ_AHEAD, WRITE_NOW
from .hub import GOING_AWAY, Hub


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.chat.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8000)  # --host --port --loop -v -q, as every wirelab server
    parser.add_argument("--server-id", default="s1", help="name in traces and in welcome/message")
    parser.add_argument("--redis-url", help="fan out through Redis pub/sub (default: local only)")
    parser.add_argument("--token", action="append", default=[], metavar="NAME=TOKEN",
                        help="a user and their token (default: alice/bob/carol with NAME-token)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a page origin allowed besides this server's own, e.g. http://host:8080")
    parser.add_argument("--ping-interval", type=float, default=20.0, help="seconds; 0 disables pings")
    parser.add_argument("--ping-timeout", type=float, default=20.0, help="seconds to wait for a pong")
    parser.add_argument("--queue-size", type=int, default=256, help="per-client outbox (messages)")
    parser.add_argument("--plain", action="store_true",
                        help="the lesson's path per message: every message through the outbox's pump "
                             "task, one message read at a time (default: fast.py's)")
    args = parser.parse_args(argv)
    tokens = {}
    for item in args.token:
        name, sep, token = item.partition("=")
        if not sep or not name or not token:
            parser.error(f"--token wants NAME=TOKEN, got {item!r}")
        tokens[name] = token
    args.tokens = tokens or dict(DEMO_TOKENS)
    return args


def own_origins(host: str, port: int) -> set[str]:
    """The origins of pages this server serves itself: its page may always connect."""
    names = {host}
    if host in ("127.0.0.1", "0.0.0.0", "localhost"):
        names |= {"127.0.0.1", "localhost"}
    return {f"http://{name}:{port}" for name in names}


class ChatLogBridge(LogBridge):
    """uvicorn's warnings and errors on stderr, minus one that is not an error here."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("ASGI callable returned without completing handshake"):
            # uvicorn 0.54's websockets-sansio logs this after every denial response
            # (401/403 before accept), although the response went out correctly.
            # Our app always accepts or denies, so the message is never a real bug here.
            return
        super().emit(record)


class ChatWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with three RFC 6455 duties done our way.

    - **Version check** (§4.2.1 item 6, §4.4): a handshake whose ``Sec-WebSocket-Version``
      is not ``13`` gets ``426 Upgrade Required`` *with* ``Sec-WebSocket-Version: 13``,
      the header the RFC says MUST tell the client what we speak.  The websockets
      library would answer a bare 400 without it, before any ASGI app or middleware
      runs, so the check sits here, in front of the library (``handshake.py`` does
      the same in the hand-rolled server).
    - **Invalid UTF-8** (§8.1): a text message that is not UTF-8 fails the connection
      with 1007 and costs one trace line.  uvicorn would log a full traceback for it,
      and the client decides how often that happens: a log flood on demand.
    - **Heartbeat timeout**: a trace line when a peer misses a pong.  uvicorn reports
      it only at its TRACE log level, and that level is costly: uvicorn then wraps the
      app in its message logger, and the websockets library formats a debug line for
      every frame (the echo benchmark ran 1.5x faster without them).

    And, for ``fast.py`` (not with ``--plain``): :meth:`write_text_now`, a synchronous write
    offered to the app in the scope's ``extensions``, and reading up to ``READ_AHEAD``
    messages ahead of the app instead of one.
    """

    read_ahead = 1  # messages queued for the app before reading pauses
    unflushed = 0  # fast.py: messages written by write_text_now since the last flush

    def _state(self, message: str) -> None:
        self.config.app.state.trace.state(message)

    @property
    def _peer(self) -> str:
        host, port = self.client or ("?", 0)
        return f"{host}:{port}"

    def handle_connect(self, event: Request) -> None:
        versions = event.headers.get_all("Sec-WebSocket-Version")
        if versions == [VERSION]:
            super().handle_connect(event)  # the library checks the rest (method, key, ...)
            if self.response.status_code == 101 and self.config.app.state.settings.fast:  # fast.py
                self.read_ahead = READ_AHEAD
                self.scope["extensions"][WRITE_NOW] = {"write": self.write_text_now}
            return
        offered = ", ".join(versions) or "none"
        self._state(f"rejected {self._peer}: HTTP 426 (Sec-WebSocket-Version {offered}, not {VERSION})")
        response = self.conn.reject(HTTPStatus.UPGRADE_REQUIRED,
                                    f"Failed to open a WebSocket connection: unsupported "
                                    f"Sec-WebSocket-Version {offered}; this server speaks {VERSION}.\n")
        response.headers["Sec-WebSocket-Version"] = VERSION
        # As uvicorn does for the library's own rejections: the answer, then close.
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def send_receive_event_to_app(self) -> None:
        """A whole message arrived: a text one is decoded here (§8.1) instead of in uvicorn."""
        if self.curr_msg_data_type != "text" or self.close_sent:
            super().send_receive_event_to_app()  # bytes pass as they are; after close: dropped
            return
        data = b"".join(self.frames)
        self.frames = []
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            self._state(f"{self._peer} sent invalid UTF-8 ({exc.reason} at byte {exc.start}) -> close 1007")
            self.conn.fail(1007, "invalid UTF-8")  # §7.1.7: close frame, then drop TCP
            self.handle_parser_exception()  # tells the app, writes the close frame, closes
            return
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        # One message at a time (fast.py: READ_AHEAD): the app's receive() resumes reading
        # once it has taken every message queued.
        if not self.read_paused and self.queue.qsize() >= self.read_ahead:
            self.read_paused = True
            self.transport.pause_reading()

    def write_text_now(self, text: str) -> bool:
        """Send a text message without waiting; False if that would mean waiting (fast.py).

        What ASGI's ``websocket.send`` does, minus its wait for ``resume_writing``: it
        refuses instead while the transport's buffer is over its high-water mark, and
        before the accept or after the close frame.  The frame goes into the
        connection's outgoing bytes, and those reach the transport once the current
        callback is over (:meth:`flush`): messages delivered in one go, such as a burst
        read in one ``data_received``, cost one ``write`` per socket, not one each.
        Every other write (``send``, the close frame) takes the same bytes in order.
        """
        if (not self.handshake_complete or self.close_sent or self.disconnected
                or self.initial_response is not None or not self.writable.is_set()):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False  # the peer's close arrived first: the app's receive() is told
        self.unflushed += 1
        if self.unflushed == 1:
            self.loop.call_soon(self.flush)
        elif self.unflushed >= FLUSH_EVERY:
            self.flush()  # a long burst: write now, so that pause_writing can stop the next ones
        return True

    def flush(self) -> None:
        """Hand the connection's outgoing bytes to the transport (see :meth:`write_text_now`)."""
        self.unflushed = 0
        output = self.conn.data_to_send()
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))

    def keepalive_timeout(self) -> None:
        if not self.close_sent and not self.transport.is_closing():
            self._state(f"{self._peer} sent no pong within {self.ping_timeout} s -> close 1011, drop TCP")
        super().keepalive_timeout()  # sends the close frame (1011) and drops the connection


def describe(settings: Settings, hub: Hub, cfg: uvicorn.Config) -> Callable[[str, int], list[str]]:
    """The ready line's detail lines; also lets the server's own page connect (its Origin)."""
    def lines(host: str, port: int) -> list[str]:
        settings.allowed_origins |= own_origins(host, port)
        interval, timeout = cfg.ws_ping_interval, cfg.ws_ping_timeout
        return [
            f"WebSocket endpoint ws://{host}:{port}/ws?token=...",
            f"allowed origins: {', '.join(sorted(settings.allowed_origins))}",
            f"heartbeat: ping every {interval} s, pong within {timeout} s" if interval else "heartbeat: off",
            f"outbox per client: {hub.queue_size} messages"
            + (" (fast.py: written directly while empty)" if settings.fast else ""),
            f"event loop: {type(asyncio.get_running_loop()).__module__.partition('.')[0]}",
        ]
    return lines


def goodbye(hub: Hub, trace: Trace) -> Callable[[], Awaitable[None]]:
    """Before uvicorn's own shutdown: close every client with 1001 (going away).

    uvicorn alone would send 1012 (service restart) to the WebSockets still open;
    clients that do not answer our close frame in time still get that.
    """
    async def close_all() -> None:
        trace.state(f"closing {len(hub.members)} client(s) with {GOING_AWAY} going away")
        await hub.close_all(GOING_AWAY, "server shutting down")
    return close_all


async def serve(args: argparse.Namespace) -> None:
    trace = Trace(args.server_id, verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    if args.redis_url:
        await check_redis(args.redis_url)
    settings = Settings(server_id=args.server_id, tokens=args.tokens, allowed_origins=set(args.allow_origin),
                        redis_url=args.redis_url, queue_size=args.queue_size, fast=not args.plain,
                        trace=trace, trace_messages=not args.quiet)
    app = create_app(settings)
    ping_interval = args.ping_interval if args.ping_interval > 0 else None
    cfg = config(
        app, args.host, args.port, bridge=ChatLogBridge(),
        # uvicorn's sans-I/O implementation on top of the websockets library (ws="websockets-sansio"),
        # with the changes ChatWebSocketProtocol lists: it supports the denial-response extension
        # (real 401/403 before accept) and keepalive pings.  The log stays at WARNING, never DEBUG:
        # the websockets library would format a line for every frame.
        ws=ChatWebSocketProtocol, ws_ping_interval=ping_interval, ws_ping_timeout=args.ping_timeout,
        ws_max_size=64 * 1024,  # a chat message is <= 2000 characters: refuse megabyte frames
        timeout_graceful_shutdown=5,
    )
    hub = app.state.hub
    await TracedServer(cfg, trace, describe(settings, hub, cfg), before_shutdown=goodbye(hub, trace)).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
