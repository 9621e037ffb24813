"""A WebSocket client written from scratch on asyncio (RFC 6455 §3, §4.1).

Reading order: handshake -> opening -> frames -> protocol -> aio -> server / **client**.

:func:`connect` opens TCP and lets ``aio.OpeningProtocol`` run an
``opening.ClientOpening`` with a fresh random key (the request out, the
``101`` answer checked); it returns the
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

from .aio import CLOSE_TIMEOUT, ConnectionClosed, OpeningProtocol, WebSocket
from .handshake import HandshakeError
from .opening import ClientOpening
from .protocol import DEFAULT_MAX_MESSAGE_SIZE

OPEN_TIMEOUT = 10.0


# The other end in the structured trace events: the name server.py's trace gives itself.
PEER = "server"

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


def _settle(done: asyncio.Future[WebSocket], outcome: WebSocket | Exception) -> None:
    if done.done():
        return  # the caller gave up (its open_timeout) before the handshake ended
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


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
        opening = ClientOpening(host_header, resource, key, origin=self.origin,
                                subprotocols=self.subprotocols, extra_headers=self.extra_headers,
                                connection_options=self.connection_options)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[WebSocket] = loop.create_future()
        async with asyncio.timeout(self.open_timeout):
            transport, _ = await loop.create_connection(
                lambda: OpeningProtocol(opening, self.trace, lambda ws: _settle(done, ws),
                                        lambda error: _settle(done, error), self.close_timeout,
                                        peer=PEER),
                host, port)
            try:
                return await done
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
