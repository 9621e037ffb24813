"""The Python chat client, on the ``websockets`` library, that reconnects by itself.

Reading order: schema -> hub -> broker -> app -> handlers -> server; then **client**; then the page.

    python -m learn_websocket.chat.client --url ws://127.0.0.1:8000/ws --token alice-token \\
        --room lobby [--say "hello"] [--listen 5] [-v]

A chat connection *will* drop: the server restarts (close 1001), a proxy times out,
Wi-Fi changes.  :class:`ChatClient` hides that from its user:

    CLOSED -> CONNECTING -> OPEN --(drop)--> WAITING --(delay)--> CONNECTING -> OPEN ...
                   |                                                    |
                   '-- HTTP 4xx but 408/429: CLOSED for good            '-- rejoin every room

(``reconnect=False`` turns this off, so that the demo's ``--no-reconnect`` can
show what the reconnect is for: the client stays CLOSED after the first drop.)

**Backoff with full jitter.**  After the n-th failed attempt in a row (n = 0 for the
first retry) the client sleeps ``uniform(0, min(backoff_max, backoff_base * 2**n))``.
The ceiling doubles, so a server that stays down is not hammered; the random
delay below the ceiling spreads the clients out, so a thousand clients dropped by
the same restart do not all come back in the same millisecond (a "thundering
herd").  The random generator is a parameter, so tests can assert the schedule.

**No retry after a 4xx, but 408 and 429.**  A 4xx says the request itself is wrong
(RFC 9110 §15.5): a rejected token (401) or origin (403), a wrong path, a
handshake the server does not speak (400, 426).  The same request will be
refused again: retrying only adds load, and someone has to act (log in again,
fix the URL).  408 Request Timeout and 429 Too Many Requests are the two 4xx that
invite a retry later.  Other failures (connection refused, 5xx such as the 503 of
a server shutting down, timeouts, a dropped connection) are worth retrying.

RFC 6455: the close code and reason the server sent (§7.4: 1001 going away, 4008
slow consumer, 1011 heartbeat timeout) end up in :attr:`ChatClient.last_close`;
the ``websockets`` library answers the server's pings (§5.5.2) by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from wirelab_common.backoff import backoff_delay  # full jitter, shared by every pattern
from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace, shorten

from . import schema

# 429 Too Many Requests is a 4xx that does invite a retry (later).
RETRYABLE_4XX = {408, 429}


def with_token(url: str, token: str) -> str:
    """``url`` with ``?token=`` added, as the browser page does (it cannot send headers).

    The server also takes ``Authorization: Bearer`` (``app.presented_token``); this
    client uses the query so that it walks the same path as the page.
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"] + [("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class ChatClient:
    """A chat connection that survives drops; see the module docstring."""

    def __init__(self, url: str, token: str, *, name: str | None = None, trace: Trace | None = None,
                 backoff_base: float = 0.1, backoff_max: float = 5.0, rng: random.Random | None = None,
                 origin: str | None = None, reconnect: bool = True) -> None:
        self.url = url
        self.reconnect = reconnect  # False: a dropped connection stays dropped (the demo's --no-reconnect)
        self.name = name or "client"
        self.trace = trace or Trace(self.name)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.origin = origin
        self.rooms: set[str] = set()  # rooms to be in, rejoined after every reconnect
        self.user: str | None = None  # from welcome
        self.server_id: str | None = None  # from welcome: which server we landed on
        self.connects = 0
        self.last_close: tuple[int, str] | None = None
        self.delays: list[float] = []  # every backoff delay slept, in order
        self.rejected: InvalidStatus | None = None
        self.state = "CLOSED"
        self._full_url = with_token(url, token)
        self._ws: ClientConnection | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ready = asyncio.Event()  # set from welcome until the connection drops
        self._join_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def _set_state(self, state: str) -> None:
        self.trace.state(f"{self.state} -> {state}")
        self.state = state

    async def start(self, timeout: float = 10.0) -> None:
        """Connect in a background task; return once welcomed (raise InvalidStatus if refused)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"chat-{self.name}")
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.rejected is not None:
            raise self.rejected
        if self._task.done():
            self._task.result()  # re-raise whatever ended the loop
        if not self._ready.is_set():
            raise TimeoutError(f"{self.name}: no welcome from {self.url} within {timeout} s")

    async def _run(self) -> None:
        attempt = 0  # failed attempts since the connection was last open
        try:
            await self._connect_loop(attempt)
        finally:
            self._set_state("CLOSED")

    async def _connect_loop(self, attempt: int) -> None:
        while not self._closing:
            self._set_state("CONNECTING")
            try:
                # proxy=None: never route loopback through an HTTP(S)_PROXY from the environment.
                ws = await connect(self._full_url, origin=self.origin, proxy=None, open_timeout=5)
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.trace.received(f"HTTP {status}: handshake refused")  # no server id yet: no peer
                if 400 <= status < 500 and status not in RETRYABLE_4XX:
                    self.rejected = exc
                    break
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.trace.state(f"connect failed: {exc or type(exc).__name__}")
            else:
                attempt = 0
                await self._session(ws)
            if self._closing or not self.reconnect:
                break
            delay = backoff_delay(attempt, self.backoff_base, self.backoff_max, self.rng)
            attempt += 1
            self.delays.append(delay)
            self._set_state("WAITING")
            self.trace.state(f"reconnect in {delay:.2f} s (attempt {attempt})")
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.connects += 1
        self._set_state("OPEN")
        try:
            async for raw in ws:
                msg = json.loads(raw)
                # The trace events name the server by the id it traces as (the welcome says which),
                # and a chat message by its id, the same on every server and client it reaches.
                server = msg["server"] if msg.get("type") == "welcome" else self.server_id
                self.trace.received(f"TEXT '{shorten(raw)}'", peer=server, cid=msg.get("id"))
                await self._on_message(msg)
        except ConnectionClosed:
            pass  # an abnormal close: the code below records it like any other
        finally:
            self._ws = None
            self._ready.clear()
            self.last_close = (ws.close_code or 1006, ws.close_reason or "")
            self.trace.state(f"connection closed: code {self.last_close[0]} {self.last_close[1]!r}")

    async def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "welcome":
            self.user, self.server_id = msg["user"], msg["server"]
            # A new connection knows nothing of us: ask again for every room we were in.
            # These joins go out before anything the user sends next (same socket, in order).
            for room in sorted(self.rooms):
                await self._send(schema.Join(room))
            self._ready.set()
        elif kind == "joined" and msg.get("user") == self.user:
            for waiter in self._join_waiters.pop(msg["room"], []):
                if not waiter.done():
                    waiter.set_result(None)
        self._inbox.put_nowait(msg)

    async def _send(self, message: schema.ClientMessage) -> None:
        await self.send_raw(schema.encode(schema.client_message(message)))

    async def send_raw(self, text: str) -> None:
        """Send one text frame as is: the low-level way (tests send invalid messages with it)."""
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"{self.name} is not connected")
        # cid: the connection's Sec-WebSocket-Key, which the server's events for our frames carry too.
        key = ws.request.headers.get("Sec-WebSocket-Key") if ws.request else None
        self.trace.sent(f"TEXT '{shorten(text)}'", peer=self.server_id, cid=key)
        await ws.send(text)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until connected and welcomed (after a reconnect: rooms rejoined)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def join(self, room: str, timeout: float = 5.0) -> None:
        """Join ``room`` and wait for the server's ``joined`` for us; rejoined after reconnects."""
        self.rooms.add(room)
        await self.wait_ready(timeout)
        waiter = asyncio.get_running_loop().create_future()
        self._join_waiters.setdefault(room, []).append(waiter)
        await self._send(schema.Join(room))
        await asyncio.wait_for(waiter, timeout)

    async def leave(self, room: str) -> None:
        self.rooms.discard(room)
        await self._send(schema.Leave(room))

    async def say(self, room: str, text: str, timeout: float = 5.0) -> None:
        await self.wait_ready(timeout)
        await self._send(schema.Say(room, text))

    async def next_message(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next server -> client message (any type), or TimeoutError."""
        return await asyncio.wait_for(self._inbox.get(), timeout)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 5.0) -> dict[str, Any]:
        """The first message matching ``predicate``; messages before it are dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.next_message(max(0.0, deadline - loop.time()))
            if predicate(msg):
                return msg

    async def close(self) -> None:
        """Close with 1000 and stop reconnecting."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "bye")  # the read loop ends, and so does the connect loop
        if self._task is not None and not self._task.done():
            if ws is None:
                self._task.cancel()  # connecting or waiting to reconnect: stop right there
            await asyncio.wait({self._task}, timeout=5.0)


async def run_cli(args: argparse.Namespace) -> None:
    trace = Trace(args.name, verbose=args.verbose, quiet=args.quiet)
    client = ChatClient(args.url, args.token, name=args.name, trace=trace)
    try:
        await client.start(timeout=10)
    except InvalidStatus as exc:
        raise SetupError(f"the server refused the handshake: HTTP {exc.response.status_code}",
                         "check --token (demo tokens: alice-token, bob-token, carol-token)") from None
    except TimeoutError:
        await client.close()
        raise SetupError(f"no chat server answered at {args.url}",
                         "start one: python -m learn_websocket.chat.server --port 8000") from None
    try:
        await client.join(args.room)
        if args.say:
            await client.say(args.room, args.say)
            # Self-verifying: our own message must come back to us (through Redis, if any).
            mine = await client.wait_for(lambda m: m.get("type") == "message" and m.get("from") == client.user
                                         and m.get("text") == args.say, timeout=5)
            check(mine, "our message did not come back")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.listen
        while (left := deadline - loop.time()) > 0:
            try:
                await client.next_message(left)  # the trace prints it
            except TimeoutError:
                break
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.chat.client")
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    parser.add_argument("--token", default="alice-token")
    parser.add_argument("--name", default="client", help="name in the trace")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--say", help="post this text, and check that it comes back")
    parser.add_argument("--listen", type=float, default=0.0, help="seconds to keep printing messages")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    run_main(lambda: run_cli(args))


if __name__ == "__main__":
    main()
