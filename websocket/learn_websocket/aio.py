"""The thin asyncio driver shared by the server and the client.

Reading order: handshake -> opening -> frames -> protocol -> **aio** -> server / client.

``opening.py`` and ``protocol.Connection`` decide everything; this module only
moves bytes.  :class:`OpeningProtocol` carries one TCP connection through the
opening handshake, for either side, and then hands the transport to a
:class:`WebSocket`.
:class:`WebSocket` is an ``asyncio.Protocol``: the event loop calls
``data_received()`` with whatever arrived, we feed it to the connection, put
messages where ``recv()`` finds them, and write the connection's replies
(pongs, close frames) with one ``transport.write``.  Doing this in the
loop's callback, not in a reader task, saves a task switch per message and
means pings are answered even while the application is busy.

It is also where the wire trace is printed, one line per frame (RFC 6455 §5)::

    < server   TEXT 'hello'                  a frame received
    > server   TEXT 'hello'                  a frame sent
    = server   OPEN -> CLOSING               a state change

With ``-v`` each frame line is followed by its header fields and payload bytes.
(``frame_trace.py`` writes these lines.)  The structured events
(``wirelab_common.trace_events``) also name the other end (``peer``: "client"
or "server", as that side's trace calls itself) and the connection (``cid``:
the handshake's Sec-WebSocket-Key, which both ends know, §4.1 item 7).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Callable

from wirelab_common.wiretrace import Trace

from .frame_trace import describe_frame, frame_detail
from .frames import CloseCode
from .opening import Opening
from .protocol import BinaryMessage, Connection, Pong, Role, State, TextMessage

CLOSE_TIMEOUT = 5.0  # how long to wait for the peer's part of the closing handshake
MAX_QUEUE = 64  # messages received but not yet taken by recv(); beyond this, stop reading


class ConnectionClosed(Exception):
    """Raised by :meth:`WebSocket.recv` / :meth:`WebSocket.send` once the connection is over."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class WebSocket(asyncio.Protocol):
    """An open WebSocket: ``await recv()``, ``await send()``, ``await close()``, ``async for``.

    server.py and client.py create it once the handshake is done and hand it
    the TCP transport with :meth:`take_over`.
    """

    peer: str | None = None  # the other end's actor name, for the trace events
    cid: str | None = None  # the connection's Sec-WebSocket-Key, for the trace events

    def __init__(self, connection: Connection, trace: Trace | None = None, *,
                 subprotocol: str | None = None, close_timeout: float = CLOSE_TIMEOUT) -> None:
        self.connection = connection
        connection.record_frames = trace is not None  # frames are kept only to be traced
        self.trace = trace
        self.subprotocol = subprotocol
        self.close_timeout = close_timeout
        self.opening: Opening | None = None  # the handshake that opened it: .request, .response
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._messages: deque[str | bytes] = deque()
        self._message_waiter: asyncio.Future[None] | None = None
        self._pings: dict[bytes, asyncio.Future[None]] = {}  # in the order they were sent
        self._drain_waiter: asyncio.Future[None] | None = None  # set while the send buffer is full
        self._reading_paused = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._closed = self._loop.create_future()  # done when TCP is closed
        self._state = connection.state

    def take_over(self, transport: asyncio.Transport, early_data: bytes = b"") -> None:
        """Receive the transport's bytes from now on, starting with ``early_data``.

        ``early_data`` arrived in the same read as the end of the handshake.
        """
        transport.set_protocol(self)
        self.connection_made(transport)
        if early_data:
            self.data_received(early_data)

    # -- the application's side -------------------------------------------------

    async def recv(self) -> str | bytes:
        """The next message; raises :class:`ConnectionClosed` when there are no more."""
        while not self._messages:
            if self.connection.state is State.CLOSED:
                raise self._closed_error()
            if self._message_waiter is not None and not self._message_waiter.done():
                raise RuntimeError("recv() is already waiting in another task")
            self._message_waiter = self._loop.create_future()
            await self._message_waiter
        if self._reading_paused and len(self._messages) <= MAX_QUEUE // 2:
            self._reading_paused = False
            self.transport.resume_reading()
        return self._messages.popleft()

    async def send(self, message: str | bytes) -> None:
        """Send one message: text for ``str``, binary for ``bytes``."""
        if self.connection.state is not State.OPEN:
            raise self._closed_error()
        if isinstance(message, str):
            self.connection.send_text(message)
        else:
            self.connection.send_binary(message)
        self._flush()
        if self._drain_waiter is not None:  # the peer reads slower than we write: wait
            await asyncio.shield(self._drain_waiter)

    async def ping(self, data: bytes | None = None, *, wait: bool = True) -> None:
        """Send a ping (§5.5.2); with ``wait``, return once its pong arrives (§5.5.3)."""
        data = os.urandom(4) if data is None else data
        if self.connection.state is not State.OPEN:
            raise self._closed_error()
        if data in self._pings:  # its pong could not be told apart from the other's
            raise RuntimeError(f"a ping with payload {data!r} is already waiting for its pong")
        waiter = self._loop.create_future()
        self._pings[data] = waiter
        self.connection.send_ping(data)
        self._flush()
        if wait:
            await waiter

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Run the closing handshake (§7.1.2) and wait until TCP is closed."""
        if self.connection.state is State.OPEN:
            self.connection.send_close(code, reason)
            self._flush()
            self._start_close_timer()  # a peer that never answers must not hang us
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait for the end of the connection, whoever closes it."""
        await asyncio.shield(self._closed)

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Messages until the peer closes normally (1000 or 1001); other codes raise."""
        try:
            while True:
                yield await self.recv()
        except ConnectionClosed as closed:
            if closed.code not in (CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY):
                raise

    def _closed_error(self) -> ConnectionClosed:
        code = self.connection.close_code
        return ConnectionClosed(code if code is not None else CloseCode.ABNORMAL_CLOSURE,
                                self.connection.close_reason)

    # -- the network's side: callbacks the event loop makes --------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.connection.receive_data(data)
        self._process()

    def eof_received(self) -> None:
        """The peer closed its side; returning None lets asyncio close ours."""
        self.connection.receive_eof()
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection.state is not State.CLOSED:
            self.connection.receive_eof()  # gone without a close frame: 1006
            self._process()
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.trace is not None:
            self.trace.state("TCP connection closed")
        self._wake_recv()
        for waiter in (*self._pings.values(), self._drain_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(self._closed_error())
                waiter.exception()  # retrieved: nobody may be waiting, and that is fine
        self._pings.clear()
        self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._drain_waiter = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        self._drain_waiter = None

    def _process(self) -> None:
        """Hand the connection's events to the application, then write its replies."""
        # Pings need nothing here (the connection queued the pong), nor does
        # Closed: recv() raises ConnectionClosed once the queue is empty.
        for event in self.connection.events_received():
            if type(event) is TextMessage:
                self._messages.append(event.text)
            elif type(event) is BinaryMessage:
                self._messages.append(event.data)
            elif type(event) is Pong:
                self._pong_received(event.data)
        if len(self._messages) >= MAX_QUEUE and not self._reading_paused:
            self._reading_paused = True  # the application is behind: let TCP push back
            self.transport.pause_reading()
        self._flush()
        self._wake_recv()
        if self.connection.state is State.CLOSED:
            self._close_transport()

    def _pong_received(self, data: bytes) -> None:
        # §5.5.3: a pong may answer only the most recent ping, so it settles
        # every ping sent before the one it echoes.  Unsolicited pongs are ignored.
        if data not in self._pings:
            return
        while self._pings:
            sent, waiter = next(iter(self._pings.items()))
            del self._pings[sent]
            if not waiter.done():
                waiter.set_result(None)
            if sent == data:
                break

    def _wake_recv(self) -> None:
        waiter = self._message_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _flush(self) -> None:
        """Trace what crossed the wire since the last flush, then write it in one go."""
        data = self.connection.data_to_send()
        if self.trace is not None:
            self._trace_frames()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def _trace_frames(self) -> None:
        trace, connection = self.trace, self.connection
        assert trace is not None
        client_masks = connection.role is Role.CLIENT  # §5.3: only clients mask
        verbose = trace.verbose
        ends = {"peer": self.peer, "cid": self.cid}
        for frame in connection.frames_received:
            detail = frame_detail(frame, not client_masks) if verbose else ()
            trace.received(describe_frame(frame), detail, **ends)
        for frame in connection.frames_sent:
            trace.sent(describe_frame(frame), frame_detail(frame, client_masks) if verbose else (), **ends)
        connection.frames_received.clear()
        connection.frames_sent.clear()
        if connection.state is not self._state:
            code = connection.close_code
            detail = [f"close code {code} {connection.close_reason!r}"] if code is not None else []
            trace.state(f"{self._state.name} -> {connection.state.name}", detail)
            self._state = connection.state

    def _close_transport(self) -> None:
        """After the closing handshake (or a failure), end TCP the way §7.1.1 says.

        The side that closes first half-closes: FIN after its last frame, then
        it waits for the peer's FIN (``eof_received``).  Closing at once while
        the peer still sends would make the kernel answer with a RST, and a
        RST can destroy our close frame before the peer reads it.
        """
        transport = self.transport
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()  # we must see the peer's FIN
        if self.connection.should_close_transport and not transport.is_closing():
            if self.connection.eof_received:
                transport.close()
            elif transport.can_write_eof():
                transport.write_eof()
        self._start_close_timer()

    def _start_close_timer(self) -> None:
        if self._close_timer is None:
            self._close_timer = self._loop.call_later(self.close_timeout, self.transport.abort)


def _head_lines(head: bytes) -> list[str]:
    """An HTTP head as its lines, without the blank line and any body."""
    return head.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")


class OpeningProtocol(asyncio.Protocol):
    """One TCP connection through the opening handshake, on either side (RFC 6455 §4).

    Writes what ``opening`` has to send, feeds it what arrives, and traces both
    heads.  Once OPEN, a :class:`WebSocket` takes over the transport and
    ``on_open(ws)`` is called; once CLOSED, the answer (if any) is written, TCP
    is closed and ``on_fail(error)`` is called.
    """

    def __init__(self, opening: Opening, trace: Trace | None, on_open: Callable[[WebSocket], None],
                 on_fail: Callable[[Exception], None], close_timeout: float = CLOSE_TIMEOUT,
                 peer: str | None = None, websocket: type[WebSocket] = WebSocket) -> None:
        self.opening = opening
        self.websocket = websocket  # the class that takes over once OPEN (echo_fast.py has another)
        self.trace = trace
        self.peer = peer  # the other end's actor name (trace events only)
        self.on_open = on_open
        self.on_fail = on_fail
        self.close_timeout = close_timeout
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._head_traced = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        timeout = getattr(self.opening, "open_timeout", None)
        if timeout is not None:  # the server's guard against a client that never finishes its head
            self.timer = asyncio.get_running_loop().call_later(timeout, self._time_out)
        self._advance()  # a client's request goes out now

    def data_received(self, data: bytes) -> None:
        self.opening.receive_data(data)
        self._advance()

    def eof_received(self) -> bool:
        self.opening.receive_eof()
        self._advance()
        return True  # keep the transport: _advance() closes it once the answer is written

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.opening.state is State.CONNECTING:
            self.opening.receive_eof()
            self._advance()

    def _time_out(self) -> None:
        self.opening.time_out()  # type: ignore[attr-defined]
        self._advance()

    def _advance(self) -> None:
        opening, trace, transport = self.opening, self.trace, self.transport
        head = getattr(opening, "request", None) or getattr(opening, "response", None)
        request = getattr(opening, "request", None)  # the client knows its key, the server reads it
        ends = {"peer": self.peer, "cid": getattr(opening, "key", None)
                or (request.headers.get("sec-websocket-key") if request else None)}
        if trace and head is not None and not self._head_traced:
            self._head_traced = True
            start = (f"{head.method} {head.target} {head.version}" if hasattr(head, "method")
                     else f"{head.version} {head.status} {head.reason}")
            trace.received(start, [f"{name}: {value}" for name, value in head.headers.items()], **ends)
        data = opening.data_to_send()
        if data and not transport.is_closing():
            if trace:  # before the write, as _flush does: the peer's answer cannot be traced first
                lines = _head_lines(data)
                upgrade = "  (upgrade to websocket)" if lines[0].startswith("GET ") else ""
                trace.sent(lines[0] + upgrade, lines[1:], **ends)
            transport.write(data)
        if opening.state is State.CONNECTING:
            return
        if self.timer is not None:
            self.timer.cancel()
        if opening.state is State.CLOSED:
            error = opening.error
            if trace:
                peer = transport.get_extra_info("peername")
                what = f"HTTP {error.status}: {error.reason}" if error.status else error.reason
                trace.state(f"CONNECTING -> CLOSED  ({what})", [f"peer {peer}"])
            transport.close()  # after the buffered answer is sent
            self.on_fail(error)
            return
        if trace:
            peer = transport.get_extra_info("peername")
            chosen = f", subprotocol {opening.subprotocol}" if opening.subprotocol else ""
            trace.state(f"CONNECTING -> OPEN  (peer {peer[0]}:{peer[1]}{chosen})")
        ws = self.websocket(opening.connection, trace, subprotocol=opening.subprotocol,
                            close_timeout=self.close_timeout)
        ws.opening, ws.peer, ws.cid = opening, self.peer, ends["cid"]
        ws.take_over(transport, opening.early_data)  # frames may follow the head in the same read
        self.on_open(ws)
