r"""A minimal Redis client on asyncio, written on our RESP codec: commands, then Pub/Sub.

Reading order: resp -> **resp_client** -> envelope -> publisher -> subscriber -> slow_subscriber -> streams.

One task reads the socket into :class:`~learn_pubsub.resp.RespParser`.  Each value
is either Pub/Sub traffic or the reply to the oldest command still waiting: Redis
answers in order, so a FIFO of futures is all the matching there is.

The two protocol versions differ exactly where Pub/Sub lives (RESP spec,
"Request-Response model" and "Pushes"; redis.io/docs/latest/develop/pubsub/):

- RESP2: SUBSCRIBE puts the connection in *subscribed mode*.  Messages and
  confirmations are plain arrays, and the server refuses every command but
  (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT and RESET.  We refuse them first,
  with :class:`SubscribedModeError`, instead of sending what cannot work.
- RESP3 (``HELLO 3``): messages and confirmations are *pushes* (``>``), told
  from replies by their type byte, so one connection can be subscribed and
  still run GET or PUBLISH.

The trace shows every command and reply; ``-v`` adds their exact bytes::

    > sub      SUBSCRIBE orders.created
          *2\r\n$9\r\nSUBSCRIBE\r\n$14\r\norders.created\r\n
    < sub      subscribe orders.created 1
    < sub      message orders.created '{"id":42}'

The parser is chosen when the client is made: ``parser="plain"`` (the default)
is ``resp.RespParser``, the one to read; ``parser="fast"`` is
``resp_fast.FastRespParser``, which gives the same values faster.

Left out: TLS, AUTH, reconnecting (subscriber.py), SSUBSCRIBE, and a bound on unread
messages (slow_subscriber.py shows what Redis does to a slow reader).  This module
is the client alone; its command line is ``resp_cli.py``::

    python -m learn_pubsub.resp_cli --resp 3 subscribe orders.created --count 2 -v
    python -m learn_pubsub.resp_cli publish orders.created '{"id":42}' -v
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from wirelab_common.wiretrace import Trace, shorten

from .resp import ProtocolError, Push, RespError, RespParser, encode_command
from .resp_fast import FastRespParser

PARSERS = {"plain": RespParser, "fast": FastRespParser}  # the same values; resp_fast.py says why two
READ_SIZE = 64 * 1024
CONNECT_TIMEOUT = 5.0
# What a RESP2 connection in subscribed mode still accepts (the server's own list, minus SSUBSCRIBE).
SUBSCRIBED_MODE_COMMANDS = frozenset({"SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
                                      "PING", "QUIT", "RESET"})
# These commands are answered by one confirmation per name: [kind, name, subscriptions now].
CONFIRMATION_OF = {"SUBSCRIBE": "subscribe", "UNSUBSCRIBE": "unsubscribe",
                   "PSUBSCRIBE": "psubscribe", "PUNSUBSCRIBE": "punsubscribe"}
MESSAGE_KINDS = {"message": 2, "pmessage": 3}  # -> elements after the kind
_PUBSUB_KINDS = frozenset(kind.encode() for kind in (*CONFIRMATION_OF.values(), *MESSAGE_KINDS))


class ReplyError(Exception):
    """The server answered with an error reply; ``prefix`` is its first word (ERR, WRONGTYPE...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message, self.prefix = message, message.split(" ", 1)[0]


class SubscribedModeError(RuntimeError):
    """A RESP2 connection in subscribed mode was asked for a command the server would refuse."""


class ConnectionLost(ConnectionError):
    """The connection ended before the reply or the next message arrived."""


@dataclass(frozen=True, slots=True)
class Message:
    """One published message; ``pattern`` is the PSUBSCRIBE pattern that matched ('pmessage')."""

    kind: str  # 'message' or 'pmessage'
    channel: str
    data: bytes
    pattern: str | None = None


@dataclass(slots=True)
class _Pending:
    """A command sent and not answered yet."""

    name: str
    future: asyncio.Future[Any]
    confirmation: str | None  # what answers it, as in CONFIRMATION_OF; None: one ordinary reply
    expected: int | None  # confirmations to come; None: until no subscription of that kind is left


class RespClient:
    """One connection to Redis; create it with :meth:`connect`, end it with :meth:`close`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 trace: Trace | None = None, parser: str = "plain") -> None:
        self.protocol = 2  # every connection starts in RESP2 ("Client handshake")
        self.server: dict[Any, Any] = {}  # the HELLO reply, if there was one
        self.channels: set[str] = set()  # as the server's confirmations said, in stream order
        self.patterns: set[str] = set()
        self.subscriptions = 0  # the count in the last confirmation: channels + patterns
        self.trace = trace
        self._reader, self._writer = reader, writer
        self._parser = PARSERS[parser](record_raw=trace is not None and trace.verbose)
        self._pending: deque[_Pending] = deque()
        self._messages: asyncio.Queue[Message | None] = asyncio.Queue()  # None: no more
        self._lost: ConnectionLost | None = None
        self._closing = False
        self._read_task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(cls, host: str = "127.0.0.1", port: int = 6379, *, protocol: int = 2,
                      trace: Trace | None = None, name: str | None = None,
                      timeout: float = CONNECT_TIMEOUT, parser: str = "plain") -> RespClient:
        """Open TCP; with ``protocol=3`` or a ``name``, send HELLO (``HELLO 3 SETNAME sub-a``)."""
        if protocol not in (2, 3):
            raise ValueError(f"protocol is 2 or 3, not {protocol!r}")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        client = cls(reader, writer, trace, parser)
        if trace:
            trace.state(f"connected to {host}:{port}")
        if protocol == 3 or name:
            try:
                hello = await asyncio.wait_for(
                    client.command("HELLO", protocol, *(("SETNAME", name) if name else ())), timeout)
            except BaseException:
                await client.close()
                raise
            if isinstance(hello, list):  # RESP2 flattens the map into [key, value, key, value...]
                hello = dict(zip(hello[::2], hello[1::2], strict=True))
            client.server = hello
            client.protocol = protocol
        return client

    async def __aenter__(self) -> RespClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def command(self, *args: str | bytes | int | float) -> Any:
        """Send one command and return its reply; an error reply raises :class:`ReplyError`."""
        if self._lost:
            raise self._lost
        name = (args[0].decode() if isinstance(args[0], bytes) else str(args[0])).upper() if args else ""
        # RESP2 subscribed mode: subscribed, or about to be (a SUBSCRIBE not confirmed yet).
        if self.protocol == 2 and name not in SUBSCRIBED_MODE_COMMANDS and (self.subscriptions or any(
                p.name in ("SUBSCRIBE", "PSUBSCRIBE") for p in self._pending)):
            allowed = ", ".join(sorted(SUBSCRIBED_MODE_COMMANDS))
            raise SubscribedModeError(f"{name} refused: this RESP2 connection is in subscribed mode, where "
                                      f"only {allowed} are allowed; unsubscribe, use another connection, "
                                      "or connect with protocol=3")
        if name in ("SUBSCRIBE", "PSUBSCRIBE") and len(args) < 2:
            raise ValueError(f"{name} needs at least one channel or pattern")
        data = encode_command(*args)
        pending = _Pending(name, asyncio.get_running_loop().create_future(), CONFIRMATION_OF.get(name),
                           len(args) - 1 or None)  # one confirmation per name; UNSUBSCRIBE alone: all
        self._pending.append(pending)  # before writing: the reply may arrive before we resume
        if self.trace:
            self.trace.sent(" ".join(map(_word, args)), [shorten(data, 200)] if self.trace.verbose else (),
                            peer="redis")  # the server at the other end, in the trace events
        self._writer.write(data)
        await self._writer.drain()
        return await pending.future

    async def ping(self, message: str | None = None) -> str | bytes:
        """PING: 'PONG', or ``message`` echoed back, in any mode."""
        reply = await self.command("PING", *(() if message is None else (message,)))
        if isinstance(reply, list):  # RESP2 subscribed mode answers [b'pong', message]
            reply = "PONG" if message is None else reply[1]
        return reply

    async def publish(self, channel: str, message: str | bytes) -> int:
        """PUBLISH; the reply is how many subscriptions received the message."""
        return await self.command("PUBLISH", channel, message)

    # The subscription commands return once every name is confirmed, with the new count.
    async def subscribe(self, *channels: str) -> int:
        return await self.command("SUBSCRIBE", *channels)

    async def psubscribe(self, *patterns: str) -> int:
        return await self.command("PSUBSCRIBE", *patterns)

    async def unsubscribe(self, *channels: str) -> int:
        """UNSUBSCRIBE ``channels``, or every channel if none is named (PUNSUBSCRIBE alike)."""
        return await self.command("UNSUBSCRIBE", *channels)

    async def punsubscribe(self, *patterns: str) -> int:
        return await self.command("PUNSUBSCRIBE", *patterns)

    async def next_message(self) -> Message:
        """The next message received; :class:`ConnectionLost` once there will be no more."""
        message = await self._messages.get()
        if message is None:
            self._messages.put_nowait(None)  # for the next call, or another reader
            raise self._lost or ConnectionLost("closed")
        return message

    async def messages(self) -> AsyncIterator[Message]:
        """Messages as they arrive; ends when we close, raises :class:`ConnectionLost` otherwise."""
        while True:
            try:
                yield await self.next_message()
            except ConnectionLost:
                if self._closing:
                    return
                raise

    async def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._read_task.cancel()  # its cleanup closes the socket
            await asyncio.gather(self._read_task, return_exceptions=True)
            try:
                await self._writer.wait_closed()
            except OSError:
                pass  # reset by the peer: closed all the same

    # -- what arrives -----------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "server closed the connection"
        try:
            while data := await self._reader.read(READ_SIZE):
                for value in self._parser.feed(data):
                    self._route(value)
        except (OSError, ProtocolError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:  # also when close() cancels us
            self._connection_lost("closed by the client" if self._closing else reason)
            self._writer.close()  # after a ProtocolError, nothing more may be read: out of step

    def _route(self, value: Any) -> None:
        if type(value) is Push:  # RESP3: the type byte says it all
            kind, data = value.kind, value.data
        elif self.protocol == 2 and type(value) is list and value and type(value[0]) is bytes and (
                value[0] in _PUBSUB_KINDS) and (
                self.subscriptions or self._pending and self._pending[0].confirmation):
            # RESP2: an array is Pub/Sub traffic, and not a reply that looks like it (say,
            # an LRANGE), only if it answers a (P)(UN)SUBSCRIBE or we are in subscribed mode.
            # (Its first element may itself be an array, as in XRANGE's reply: not hashable.)
            kind, data = value[0].decode(), tuple(value[1:])
        else:
            self._trace_received(_describe(value))
            return self._reply(value)
        self._trace_received(" ".join([kind, *(_describe_part(kind, i, x) for i, x in enumerate(data))]))
        if MESSAGE_KINDS.get(kind) == len(data):
            *pattern, channel, payload = data
            self._messages.put_nowait(Message(kind, _text(channel), payload, *map(_text, pattern)))
        elif kind in CONFIRMATION_OF.values():
            self._confirmed(kind, None if data[0] is None else _text(data[0]), data[1])
        # other pushes (e.g. 'invalidate', of client-side caching) are traced and ignored

    def _confirmed(self, kind: str, name: str | None, count: int) -> None:
        names = self.patterns if kind.startswith("p") else self.channels
        if name is not None and kind.endswith("unsubscribe"):
            names.discard(name)
        elif name is not None:
            names.add(name)
        if self.trace and (self.subscriptions == 0) != (count == 0):
            mode = "subscribed mode" if self.protocol == 2 else "subscribed"  # RESP2 restricts commands
            self.trace.state(f"{mode}: {count} subscription(s)" if count else f"left {mode}")
        self.subscriptions = count
        head = self._pending[0] if self._pending else None
        if head is None or head.confirmation != kind:
            return  # not the answer to a command of ours: the state above is all it changes
        if head.expected is not None:
            head.expected -= 1
        if head.expected == 0 or (head.expected is None and (name is None or not names)):
            self._pending.popleft()
            if not head.future.done():
                head.future.set_result(count)

    def _reply(self, value: Any) -> None:
        if not self._pending:
            raise ProtocolError(f"a reply nobody asked for: {_describe(value)}")
        pending = self._pending.popleft()
        if pending.name == "RESET" and value == "RESET":  # RESET also ends Pub/Sub and RESP3
            self.channels.clear()
            self.patterns.clear()
            self.subscriptions, self.protocol = 0, 2
        if pending.future.done():  # the caller stopped waiting (a timeout): drop the reply
            return
        if type(value) is RespError:
            pending.future.set_exception(ReplyError(value.message))
        else:
            pending.future.set_result(value)

    def _connection_lost(self, reason: str) -> None:
        if self._lost is None:
            self._lost = ConnectionLost(reason)
            if self.trace:
                self.trace.state(f"connection closed: {reason}")
            for pending in self._pending:
                if not pending.future.done():
                    pending.future.set_exception(self._lost)
            self._pending.clear()
            self._messages.put_nowait(None)

    def _trace_received(self, summary: str) -> None:
        if self.trace:
            self.trace.received(summary, [shorten(self._parser.last_raw, 200)] if self.trace.verbose else (),
                                peer="redis")


def _text(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")  # names are bytes; this decoding round-trips


def _word(arg: object) -> str:
    """An argument for the trace: bare if it is one plain word, else quoted."""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text if text.isprintable() and text and not set(text) & set(" '\"") else f"'{shorten(text, 60)}'"


def _describe_part(kind: str, index: int, value: Any) -> str:
    """An element of a push: names bare, the message payload quoted."""
    if isinstance(value, bytes) and index < MESSAGE_KINDS.get(kind, 99) - 1:
        return _word(value)
    return str(value) if isinstance(value, int) else _describe(value)


def _describe(value: Any) -> str:
    """A reply on one line, in the manner of redis-cli: OK, 'bytes', (int) 1, (nil), [...]."""
    if isinstance(value, bytes):
        return f"'{shorten(value, 60)}'"
    if isinstance(value, str):
        return value  # a simple string: OK, PONG, QUEUED
    if isinstance(value, RespError):
        return f"(error) {value.message}"
    if isinstance(value, dict):
        return shorten("{" + ", ".join(f"{_describe(k)}: {_describe(v)}" for k, v in value.items()) + "}")
    if isinstance(value, (list, set)):
        return shorten("[" + ", ".join(map(_describe, value)) + "]")
    return "(nil)" if value is None else shorten(f"({type(value).__name__}) {value}")

