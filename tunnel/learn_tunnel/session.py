"""The asyncio driver of a :class:`mux.Connection` over one WebSocket: used by the relay and the agent.

Reading order: frames -> mux -> **session** -> relay / agent -> demo.

One task reads WebSocket messages, feeds them to the Connection, and sorts the
events into one queue per stream; everything else talks to a stream through
this class: ``send_body`` waits for window updates when the window is empty,
``next_event`` waits for the stream's next event, ``acknowledge`` returns
window once a chunk was passed on.  Writes go out under one lock, in the
order the Connection framed them.

When the Connection ends the conversation itself (an oversized frame, a flood,
an invalid stream id), the driver sends its GOAWAY and closes the WebSocket
with code 1008 (policy violation) and the same reason, so the peer can log it.

The WebSocket is only a pipe of bytes here: frames are batched into messages
of up to ``MAX_MESSAGE`` bytes, and the parser does not care where one
message ends (a frame could as well be split over two).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.connection import Connection as WebSocket
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from wirelab_common.wiretrace import Trace, shorten

from .frames import HEADER_SIZE, MAX_FRAME_SIZE, ErrorCode, Frame, FrameType, serialize
from .mux import Connection, ConnectionClosed, Event, HeadersReceived, StreamReset, WindowUpdated

# Frames are batched into WebSocket messages of at most this size; both ends accept twice it.
MAX_MESSAGE = 4 * (HEADER_SIZE + MAX_FRAME_SIZE)


class SessionGone(Exception):
    """The tunnel connection ended while a stream was waiting on it."""


class Session:
    """One tunnel connection.  ``on_open(headers_event)`` runs as a task for each stream the peer opens."""

    def __init__(self, ws: WebSocket, conn: Connection, trace: Trace, *, show_data: bool = False,
                 on_open: Callable[[HeadersReceived], Awaitable[None]] | None = None) -> None:
        self.ws, self.conn, self.trace = ws, conn, trace
        self.show_data = show_data  # trace every DATA and WINDOW_UPDATE frame, not only the others
        self.on_open = on_open
        self.inbox: dict[int, asyncio.Queue[Event]] = {}
        self.window_open: dict[int, asyncio.Event] = {}
        self.lock = asyncio.Lock()
        self.ended: str | None = None  # why the connection ended, once it has
        self.tasks: set[asyncio.Task[None]] = set()
        self.resets: dict[int, StreamReset] = {}  # streams the peer reset, and why (for the trace)

    # -- streams --------------------------------------------------------------------------------

    def _track(self, stream_id: int) -> None:
        self.inbox[stream_id] = asyncio.Queue()
        self.window_open[stream_id] = asyncio.Event()

    async def open(self, head: dict[str, Any], end_stream: bool = False) -> int:
        if self.ended:
            raise SessionGone(self.ended)
        stream_id = self.conn.open_stream(head, end_stream)
        self._track(stream_id)
        await self.flush()
        return stream_id

    async def send_headers(self, stream_id: int, head: dict[str, Any], end_stream: bool = False, *,
                           flush: bool = True) -> None:
        """``flush=False``: the HEADERS frame waits for the next flush (the DATA that follows), so
        both leave in one WebSocket message: one write, and one wake-up of the peer, instead of two."""
        self.conn.send_headers(stream_id, head, end_stream)
        if flush:
            await self.flush()

    async def send_body(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Send all of ``data``, waiting for WINDOW_UPDATE whenever the stream's window is empty."""
        view = memoryview(data)
        while True:
            if self.ended:
                raise SessionGone(self.ended)
            if stream_id not in self.conn.streams:
                raise SessionGone(f"stream {stream_id} was reset")
            sent = self.conn.send_data(stream_id, bytes(view), end_stream)
            await self.flush()
            view = view[sent:]
            if not view:
                return
            event = self.window_open[stream_id]
            event.clear()
            await event.wait()  # set by WindowUpdated, a reset, or the end of the connection

    async def next_event(self, stream_id: int) -> Event:
        """The stream's next HeadersReceived / DataReceived / StreamReset; SessionGone if the tunnel ended."""
        inbox = self.inbox.get(stream_id)
        if inbox is None:
            raise SessionGone(f"stream {stream_id} is over")
        event = await inbox.get()
        if isinstance(event, ConnectionClosed):
            raise SessionGone(event.reason or event.code.name)
        return event

    async def acknowledge(self, stream_id: int, n: int) -> None:
        self.conn.acknowledge(stream_id, n)
        await self.flush()

    async def reset(self, stream_id: int, code: ErrorCode, reason: str) -> None:
        """Reset the stream; whoever waits on it (``next_event``, ``send_body``) learns at once."""
        self.conn.reset(stream_id, code, reason)
        inbox = self.inbox.get(stream_id)
        if inbox is not None:
            inbox.put_nowait(StreamReset(stream_id, code, reason, remote=False))
        window = self.window_open.get(stream_id)
        if window is not None:
            window.set()
        await self.flush()

    def forget(self, stream_id: int) -> None:
        self.inbox.pop(stream_id, None)
        self.resets.pop(stream_id, None)
        window = self.window_open.pop(stream_id, None)
        if window is not None:
            window.set()

    # -- the wire -------------------------------------------------------------------------------

    async def flush(self) -> None:
        async with self.lock:
            frames = self.conn.frames_to_send()  # taken under the lock: frames leave in framing order
            if not frames or self.ended:
                return
            message = bytearray()
            try:
                for frame in frames:
                    self._trace(self.trace.sent, frame)
                    wire = serialize(frame)
                    if message and len(message) + len(wire) > MAX_MESSAGE:
                        await self.ws.send(bytes(message))
                        message.clear()
                    message += wire
                await self.ws.send(bytes(message))
            except WebSocketClosed:
                pass  # the reader sees the close and ends the session

    async def run(self) -> str:
        """Read until the WebSocket closes; return why the tunnel ended."""
        reason = "the WebSocket closed"
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    message = message.encode()  # a text message is still bytes to the parser
                events = self.conn.receive_data(message)
                for frame in self.conn.received:
                    self._trace(self.trace.received, frame)
                for event in events:
                    await self._dispatch(event)
                await self.flush()  # RST_STREAM or GOAWAY the Connection queued in answer
                if self.conn.closed is not None:
                    closed = self.conn.closed
                    reason = f"{closed.code.name}: {closed.reason}"
                    if not closed.remote:
                        await self.ws.close(1008, reason[:120])  # a close reason holds 123 bytes
                    break
        except WebSocketClosed as exc:
            reason = f"the WebSocket closed: {exc}"
        finally:
            self._end(reason)
        return reason

    async def _dispatch(self, event: Event) -> None:
        if isinstance(event, ConnectionClosed):
            return
        stream_id = event.stream_id
        if isinstance(event, WindowUpdated):
            if stream_id in self.window_open:
                self.window_open[stream_id].set()
            return
        if isinstance(event, HeadersReceived) and stream_id not in self.inbox and self.on_open is not None:
            self._track(stream_id)
            task = asyncio.create_task(self.on_open(event))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        queue = self.inbox.get(stream_id)
        if queue is not None:
            queue.put_nowait(event)
        if isinstance(event, StreamReset):
            self.resets[stream_id] = event
            window = self.window_open.get(stream_id)
            if window is not None:
                window.set()  # a sender waiting for window learns the stream is gone

    def _end(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = reason
        self.trace.state(f"tunnel connection ended: {reason}")
        gone = ConnectionClosed(ErrorCode.CANCEL, reason, remote=True)
        for queue in self.inbox.values():
            queue.put_nowait(gone)
        for window in self.window_open.values():
            window.set()

    def _trace(self, mark: Callable[..., None], frame: Frame) -> None:
        if frame.type in (FrameType.DATA, FrameType.WINDOW_UPDATE) and not self.show_data:
            return
        detail = [shorten(frame.payload, 200)] if frame.type is not FrameType.DATA else []
        mark(frame.summary(), detail)
