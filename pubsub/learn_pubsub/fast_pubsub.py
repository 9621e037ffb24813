"""The same subscriber and publisher on lean connections: each message handled where its bytes arrive.

Reading order: optional, after subscriber (the speed beside the lesson).

:class:`~learn_pubsub.subscriber.Subscriber` is the lesson, on redis-py's
``PubSub``: the socket's bytes go to a stream reader, which wakes the task
waiting in ``get_message()``, which parses them (redis-py's pure-Python parser
here: no hiredis) and hands back a dict.  :class:`FastSubscriber` keeps all of
the lesson (the reconnect table, the confirmations, the envelope checks, the
records, the trace) and swaps only the connection: an ``asyncio.Protocol`` fed
straight by the event loop, our :class:`~learn_pubsub.resp_fast.FastRespParser`,
and, once subscribed, :meth:`Subscriber._handle` called from ``data_received``
itself.  A message is handled in the same turn of the loop that read it, with
no task to wake in between.

What Redis sees: ``CLIENT SETNAME <name>`` (redis-py's ``client_name``; and
``AUTH`` if the URL has a password), then ``SUBSCRIBE``/``PSUBSCRIBE``, in RESP2
(redis-py 8 speaks RESP3 here; the pushes carry the same fields).  The
semantics are the lesson's (at most once: what is published while we are
away is lost); ``tests/pubsub/test_fast_subscriber.py`` runs both classes
through the same publishes, patterns, bad envelopes and a Redis restart, and
compares what they recorded.

:class:`FastPublisher` is the lesson's publisher with redis-py's client swapped
for :class:`LeanClient`: ``PUBLISH`` written as bytes on one connection, its
integer reply read by the same parser (replies come in order, so a queue of
futures pairs them up); a lost connection fails the calls waiting on it, as
redis-py's does, and the next call connects again.  The envelope, the receipts,
the trace and ``publish(retry=True)`` are the lesson's.

Chosen when made, as ``RespClient(parser="fast")`` is: ``FastSubscriber(...)``
and ``FastPublisher(...)`` take the lesson's arguments (the benchmark measures
both kinds side by side).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from .publisher import Publisher
from .resp import ProtocolError, RespError, encode_command
from .resp_fast import FastRespParser
from .subscriber import Subscriber

_KINDS = {b"message": "message", b"pmessage": "pmessage", b"subscribe": "subscribe",
          b"psubscribe": "psubscribe", b"unsubscribe": "unsubscribe", b"punsubscribe": "punsubscribe"}
CONNECT_TIMEOUT = 5.0


def _address(redis_url: str) -> tuple[str, int, bytes]:
    """(host, port, the AUTH command if the URL has a password, else b"")."""
    url = urlsplit(redis_url)
    auth = b""
    if url.password:
        user = [unquote(url.username)] if url.username else []
        auth = encode_command("AUTH", *user, unquote(url.password))
    return url.hostname or "127.0.0.1", url.port or 6379, auth


async def _open(redis_url: str, protocol: Callable[[], asyncio.Protocol]) -> tuple[asyncio.Protocol, bytes]:
    """Connect; errors as redis-py words them (a ``ConnectionError``, which is a ``RedisError``)."""
    host, port, auth = _address(redis_url)
    loop = asyncio.get_running_loop()
    try:
        _, connected = await asyncio.wait_for(loop.create_connection(protocol, host, port), CONNECT_TIMEOUT)
    except TimeoutError:
        raise RedisConnectionError(f"Timeout connecting to {host}:{port}.") from None
    except OSError as exc:
        reason = f"Error {exc.errno} connecting to {host}:{port}. {exc.strerror}."
        raise RedisConnectionError(reason) from None
    return connected, auth


class LeanPubSub(asyncio.Protocol):
    """The part of redis-py's ``PubSub`` the subscriber uses, on a bare protocol; also its own client."""

    def __init__(self, redis_url: str, name: str) -> None:
        self.redis_url, self.name = redis_url, name
        self.parser = FastRespParser()
        self.transport: asyncio.Transport | None = None
        self.queue: deque[dict[str, Any]] = deque()  # until deliver_to(): what get_message() returns
        self.deliver: Callable[[dict[str, Any]], None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.error: Exception | None = None  # set once the connection is over, or out of step

    # -- what the subscriber calls --------------------------------------------------

    async def subscribe(self, *channels: str) -> None:
        await self._send("SUBSCRIBE", *channels)

    async def psubscribe(self, *patterns: str) -> None:
        await self._send("PSUBSCRIBE", *patterns)

    async def get_message(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next push (shaped as redis-py's); None after ``timeout`` s; raises once the link is over."""
        if not self.queue:
            self._check()
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.waiter, timeout)
            except TimeoutError:
                return None
            finally:
                self.waiter = None
        if self.queue:
            return self.queue.popleft()
        self._check()
        return None

    async def deliver_to(self, handle: Callable[[dict[str, Any]], None]) -> None:
        """From now on call ``handle(message)`` from ``data_received``; raises when the connection is over."""
        while self.queue:
            handle(self.queue.popleft())
        self.deliver = handle
        while True:
            self._check()
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter

    async def aclose(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- the connection ---------------------------------------------------------------

    async def _send(self, *command: str) -> None:
        if self.transport is None:
            await self._connect()
        self._check()
        assert self.transport is not None
        self.transport.write(encode_command(*command))

    async def _connect(self) -> None:
        _, auth = await _open(self.redis_url, lambda: self)
        assert self.transport is not None
        self.transport.write(auth + encode_command("CLIENT", "SETNAME", self.name))

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            for value in self.parser.feed(data):
                self._value(value)
        except ProtocolError as exc:
            self._over(exc)  # out of step: nothing more can be read
            assert self.transport is not None
            self.transport.close()

    def _value(self, value: Any) -> None:
        if type(value) is list and value and type(value[0]) is bytes and value[0] in _KINDS:
            kind = _KINDS[value[0]]
            if kind == "pmessage":
                message = {"type": kind, "pattern": value[1], "channel": value[2], "data": value[3]}
            else:
                message = {"type": kind, "pattern": None, "channel": value[1], "data": value[2]}
            if self.deliver is not None and kind in ("message", "pmessage"):
                self.deliver(message)
                return
            self.queue.append(message)
            self._wake()
        elif isinstance(value, RespError):  # AUTH, SETNAME or SUBSCRIBE refused: as redis-py, a RedisError
            self._over(ResponseError(value.message))
            assert self.transport is not None
            self.transport.close()
        # else: +OK of AUTH / CLIENT SETNAME

    def connection_lost(self, exc: Exception | None) -> None:
        self._over(RedisConnectionError("Connection closed by server."))

    def _over(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class FastSubscriber(Subscriber):
    """:class:`~learn_pubsub.subscriber.Subscriber` on a :class:`LeanPubSub`; same records, same trace."""

    def _connection(self) -> tuple[Any, Any]:
        lean = LeanPubSub(self.redis_url, self.name)
        return lean, lean

    async def _listen(self, pubsub: Any) -> None:
        await pubsub.deliver_to(self._handle)


class _ReplyProtocol(asyncio.Protocol):
    """One connection of :class:`LeanClient`: each reply settles the oldest waiting future."""

    def __init__(self) -> None:
        self.parser = FastRespParser()
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.error: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            for value in self.parser.feed(data):
                future = self.waiting.popleft()
                if future.done():
                    continue  # its caller was cancelled
                if isinstance(value, RespError):
                    future.set_exception(ResponseError(value.message))
                else:
                    future.set_result(value)
        except (ProtocolError, IndexError) as exc:  # not RESP, or a reply nobody asked for: out of step
            self._fail(RedisConnectionError(f"protocol error: {exc}"))
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError("Connection closed by server."))

    def _fail(self, error: Exception) -> None:
        self.error = self.error or error
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.error)


class LeanClient:
    """``publish()`` and ``aclose()`` of redis-py's client, on one lean connection (opened on first use)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.protocol: _ReplyProtocol | None = None

    async def publish(self, channel: str, message: str | bytes) -> int:
        return await self._call("PUBLISH", channel, message)

    async def _call(self, *command: str | bytes) -> Any:
        protocol = self.protocol
        if protocol is None or protocol.error is not None:
            protocol = self.protocol = await self._connect()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.waiting.append(future)
        assert protocol.transport is not None
        protocol.transport.write(encode_command(*command))
        return await future

    async def _connect(self) -> _ReplyProtocol:
        protocol, auth = await _open(self.redis_url, _ReplyProtocol)
        assert isinstance(protocol, _ReplyProtocol)
        if auth:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            protocol.waiting.append(future)
            assert protocol.transport is not None
            protocol.transport.write(auth)
            await future
        return protocol

    async def aclose(self) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.close()
        self.protocol = None


class FastPublisher(Publisher):
    """The lesson's :class:`~learn_pubsub.publisher.Publisher` on a :class:`LeanClient`."""

    def __init__(self, redis_url: str, *args: Any, **options: Any) -> None:
        super().__init__(redis_url, *args, **options)
        self._redis = LeanClient(redis_url)  # type: ignore[assignment]  (redis-py's client never connected)
