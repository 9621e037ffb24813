"""A WebSocket client written from scratch on asyncio (RFC 6455 §3, §4.1).

Reading order: handshake -> frames -> protocol -> aio -> server / **client**.

:func:`connect` opens TCP, sends the opening handshake with a fresh random
key, checks the ``101`` answer, and returns a
:class:`~learn_websocket.aio.WebSocket`::

    async with connect("ws://127.0.0.1:8765/") as ws:
        await ws.send("hello")
        print(await ws.recv())

As a program it is a self-checking echo client: it sends each ``--send``
text, checks that the same text comes back, closes with 1000 and exits 0,
or exits 1 on the first thing that is wrong::

    python -m learn_websocket.client --url ws://127.0.0.1:8765/ --send hello --send world --ping -v
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from wirelab_common.errors import CheckFailed, SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .aio import CLOSE_TIMEOUT, ConnectionClosed, WebSocket
from .handshake import HandshakeError, build_request, parse_response, split_head, validate_response
from .protocol import DEFAULT_MAX_MESSAGE_SIZE, Connection, Role

OPEN_TIMEOUT = 10.0


def parse_uri(uri: str) -> tuple[str, int, str, str]:
    """§3: ``ws://host[:port]/path?query`` -> (host, port, resource name, Host header)."""
    parts = urlsplit(uri)
    if parts.scheme == "wss":
        raise ValueError("wss:// (TLS) is not part of this lesson; use ws://")
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"not a ws:// URI: {uri!r}")
    if parts.fragment:  # §3: "Fragment identifiers ... MUST NOT be used"
        raise ValueError(f"a WebSocket URI has no #fragment: {uri!r}")
    port = parts.port or 80
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = host if port == 80 else f"{host}:{port}"  # §4.1 item 4
    return parts.hostname, port, resource, host_header


class ClientHandshake(asyncio.Protocol):
    """A TCP connection until the server's answer to our opening handshake (§4.1).

    Sends the request as soon as TCP is up, collects the response head, checks
    it, and on success lets a :class:`WebSocket` take over the transport.
    ``self.done`` then holds that WebSocket, or the :class:`HandshakeError`.
    """

    def __init__(self, request: bytes, key: str, subprotocols: Sequence[str],
                 connection_options: dict[str, Any], trace: Trace | None, close_timeout: float) -> None:
        self.request = request
        self.key = key
        self.subprotocols = subprotocols
        self.connection_options = connection_options
        self.trace = trace
        self.close_timeout = close_timeout
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[WebSocket] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]
        if self.trace:
            lines = self.request.decode("latin-1").split("\r\n")
            self.trace.sent(f"{lines[0]}  (upgrade to websocket)", lines[1:-2])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        trace = self.trace
        try:
            split = split_head(self.buffer)
            if split is None:
                return  # not all there yet
            head, early_data = split
            response = parse_response(head)
            if trace:
                trace.received(f"{response.version} {response.status} {response.reason}",
                               [f"{name}: {value}" for name, value in response.headers.items()])
            subprotocol = validate_response(response, self.key, self.subprotocols)
        except HandshakeError as error:
            self.transport.close()
            self.done.set_exception(error)
            return
        if trace:
            trace.state("CONNECTING -> OPEN" + (f"  (subprotocol {subprotocol})" if subprotocol else ""))
        ws = WebSocket(Connection(Role.CLIENT, **self.connection_options), trace, subprotocol=subprotocol,
                       close_timeout=self.close_timeout)
        ws.handshake_response = response
        ws.take_over(self.transport, early_data)  # a server may send frames right after its 101
        self.done.set_result(ws)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(HandshakeError(0, "server closed the connection during the handshake"))


class connect:  # lowercase: used like a function, `await connect(...)` or `async with connect(...)`
    """Open a WebSocket connection: await it, or use it as an async context manager."""

    def __init__(self, uri: str, *, origin: str | None = None, subprotocols: Sequence[str] = (),
                 extra_headers: Iterable[tuple[str, str]] | None = None, trace: Trace | None = None,
                 auto_pong: bool = True, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
                 fragment_size: int | None = None, open_timeout: float = OPEN_TIMEOUT,
                 close_timeout: float = CLOSE_TIMEOUT,
                 mask_source: Callable[[int], bytes] = os.urandom) -> None:
        self.uri = uri
        self.origin = origin
        self.subprotocols = tuple(subprotocols)
        self.extra_headers = list(extra_headers or ())
        self.trace = trace
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.connection_options: dict[str, Any] = dict(
            max_message_size=max_message_size, fragment_size=fragment_size,
            auto_pong=auto_pong, mask_source=mask_source)
        self.ws: WebSocket | None = None

    def __await__(self) -> Generator[Any, None, WebSocket]:
        return self._connect().__await__()

    async def __aenter__(self) -> WebSocket:
        self.ws = await self._connect()
        return self.ws

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None
        await self.ws.close()

    async def _connect(self) -> WebSocket:
        host, port, resource, host_header = parse_uri(self.uri)
        # §4.1 item 7: a nonce of 16 random bytes, base64-encoded, new for every connection.
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = build_request(host_header, resource, key, origin=self.origin,
                                subprotocols=self.subprotocols, extra_headers=self.extra_headers)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.open_timeout):
            transport, handshake = await loop.create_connection(
                lambda: ClientHandshake(request, key, self.subprotocols, self.connection_options, self.trace,
                                        self.close_timeout),
                host, port)
            try:
                return await handshake.done
            except BaseException:
                transport.close()
                raise


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.client",
                                     description="Send texts to an echo server and check they come back.")
    parser.add_argument("--url", default="ws://127.0.0.1:8765/", help="the server (default %(default)s)")
    parser.add_argument("--send", action="append", metavar="TEXT", help="a text to send (repeatable)")
    parser.add_argument("--ping", action="store_true", help="also send a ping and wait for its pong")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for the whole exchange")
    add_verbosity(parser)  # -v: headers and frame bytes; -q: only errors
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    texts = args.send or ["hello, websocket"]
    trace = Trace("client", verbose=args.verbose, quiet=args.quiet)
    try:
        async with asyncio.timeout(args.timeout):
            ws = await connect(args.url, trace=trace)
            for text in texts:
                await ws.send(text)
                echoed = await ws.recv()
                check(echoed == text, f"sent {text!r} but the server echoed {echoed!r}")
            if args.ping:
                await ws.ping(b"are you there?")
            await ws.close()
    except ValueError as exc:
        raise SetupError(str(exc), "pass --url ws://127.0.0.1:8765/") from None
    except TimeoutError:  # before OSError: TimeoutError is one
        raise CheckFailed(f"no answer within {args.timeout:.0f}s") from None
    except OSError as exc:
        raise SetupError(f"cannot connect to {args.url}: {exc.strerror or exc}",
                         "start a server: python -m learn_websocket.server --port PORT") from None
    except HandshakeError as exc:
        raise CheckFailed(f"handshake failed: {exc}") from None
    except ConnectionClosed as exc:
        raise CheckFailed(f"the server closed the connection early: {exc.code} {exc.reason}") from None
    check(ws.close_code == 1000, f"expected close code 1000, got {ws.close_code}")
    trace.note(f"all {len(texts)} echo(es) matched" + (", ping answered" if args.ping else ""))


if __name__ == "__main__":
    run_main(main)
