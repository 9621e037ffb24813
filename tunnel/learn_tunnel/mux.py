"""Streams over one connection: the stream state machine, flow control and limits (pure).

Reading order: frames -> **mux** -> session -> relay / agent -> demo.

:class:`Connection` is one end of the tunnel, sans-I/O in the manner of h11 and
h2: the driver feeds it what the WebSocket delivered (``receive_data``) and
gets events back; it calls ``open_stream`` / ``send_headers`` / ``send_data``
/ ``reset`` and sends what ``frames_to_send`` returns.  No sockets, no clock.

The relay *opens* streams (odd ids 1, 3, 5, ... as an HTTP/2 client does),
one per public request; the agent answers on them and never opens one.

**A stream's life** (RFC 9113 section 5.1, without PRIORITY and push), as
seen from one end.  Drawn from ``STREAM``, checked by a test::

    idle               --send HEADERS-->    open
    idle               --recv HEADERS-->    open
    open               --send HEADERS-->    open
    open               --recv HEADERS-->    open
    open               --send DATA-->       open
    open               --recv DATA-->       open
    open               --send END_STREAM--> half_closed_local
    open               --recv END_STREAM--> half_closed_remote
    open               --send RST_STREAM--> closed
    open               --recv RST_STREAM--> closed
    half_closed_local  --recv HEADERS-->    half_closed_local
    half_closed_local  --recv DATA-->       half_closed_local
    half_closed_local  --recv END_STREAM--> closed
    half_closed_local  --send RST_STREAM--> closed
    half_closed_local  --recv RST_STREAM--> closed
    half_closed_remote --send HEADERS-->    half_closed_remote
    half_closed_remote --send DATA-->       half_closed_remote
    half_closed_remote --send END_STREAM--> closed
    half_closed_remote --send RST_STREAM--> closed
    half_closed_remote --recv RST_STREAM--> closed

A request is ``HEADERS`` then ``DATA``... with ``END_STREAM``; the response
the same the other way.  DATA from a peer that already ended its side is a
*stream* error (RST_STREAM ``STREAM_CLOSED``); the other streams go on.

**Flow control** (section 5.2), per stream and per direction: each side may
have at most ``initial_window`` bytes of a stream's DATA unacknowledged.  The
receiver calls ``acknowledge(stream_id, n)`` once its application *consumed*
``n`` bytes, which sends ``WINDOW_UPDATE n``.  So a slow reader of one big
upload holds up only that upload: its window is empty, the others' are not.
(HTTP/2 also has a connection-wide window; here the WebSocket's TCP does that.)

**Connection errors** end everything with ``GOAWAY code reason`` (the driver
then closes the WebSocket with that reason): a frame over the size limit, a
frame on a stream id that was never opened (or one the agent tries to open),
DATA beyond the window, a malformed payload, and a *flood*: more than
``flood_limit`` frames that carry no data (WINDOW_UPDATE, RST_STREAM, empty
DATA) since this end last sent data, i.e. frames nobody asked for.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from wirelab_common.state_table import BadTransition, Machine, StateTable

from .frames import (
    MAX_FRAME_SIZE,
    ErrorCode,
    Flags,
    Frame,
    FrameError,
    FrameParser,
    FrameType,
    code_and_reason,
    parse_code_and_reason,
)

STREAM = StateTable("stream", {
    ("idle", "send HEADERS"): "open",
    ("idle", "recv HEADERS"): "open",
    ("open", "send HEADERS"): "open",
    ("open", "recv HEADERS"): "open",
    ("open", "send DATA"): "open",
    ("open", "recv DATA"): "open",
    ("open", "send END_STREAM"): "half_closed_local",
    ("open", "recv END_STREAM"): "half_closed_remote",
    ("open", "send RST_STREAM"): "closed",
    ("open", "recv RST_STREAM"): "closed",
    ("half_closed_local", "recv HEADERS"): "half_closed_local",
    ("half_closed_local", "recv DATA"): "half_closed_local",
    ("half_closed_local", "recv END_STREAM"): "closed",
    ("half_closed_local", "send RST_STREAM"): "closed",
    ("half_closed_local", "recv RST_STREAM"): "closed",
    ("half_closed_remote", "send HEADERS"): "half_closed_remote",
    ("half_closed_remote", "send DATA"): "half_closed_remote",
    ("half_closed_remote", "send END_STREAM"): "closed",
    ("half_closed_remote", "send RST_STREAM"): "closed",
    ("half_closed_remote", "recv RST_STREAM"): "closed",
})

INITIAL_WINDOW = 65_536  # RFC 9113's default is 65,535; a round 64 KiB reads better
MAX_WINDOW = 2**31 - 1  # section 6.9.1: a window above this is a FLOW_CONTROL_ERROR
WINDOW = struct.Struct("!I")


@dataclass(frozen=True)
class HeadersReceived:
    stream_id: int
    head: dict[str, Any]
    end_stream: bool


@dataclass(frozen=True)
class DataReceived:
    stream_id: int
    data: bytes
    end_stream: bool


@dataclass(frozen=True)
class WindowUpdated:
    stream_id: int
    increment: int


@dataclass(frozen=True)
class StreamReset:
    stream_id: int
    code: ErrorCode
    reason: str
    remote: bool  # True: the peer reset it; False: we did, because of what the peer sent


@dataclass(frozen=True)
class ConnectionClosed:
    code: ErrorCode
    reason: str
    remote: bool  # True: the peer sent GOAWAY; False: we did (the driver must now close)


Event = HeadersReceived | DataReceived | WindowUpdated | StreamReset | ConnectionClosed


@dataclass
class Stream:
    id: int
    machine: Machine = field(default_factory=lambda: Machine(STREAM, "idle"))
    send_window: int = INITIAL_WINDOW  # bytes we may still send before the peer acknowledges
    recv_window: int = INITIAL_WINDOW  # bytes the peer may still send before we acknowledge

    @property
    def state(self) -> str:
        return str(self.machine.state)


class Connection:
    """One end of the tunnel.  ``opener=True`` for the relay, which opens the streams."""

    def __init__(self, opener: bool, *, initial_window: int = INITIAL_WINDOW,
                 max_frame_size: int = MAX_FRAME_SIZE, max_streams: int = 100,
                 flood_limit: int = 1000) -> None:
        self.opener = opener
        self.initial_window = initial_window
        self.max_frame_size = max_frame_size
        self.max_streams = max_streams
        self.flood_limit = flood_limit
        self.parser = FrameParser(max_frame_size)
        self.streams: dict[int, Stream] = {}
        self.next_stream_id = 1  # the opener's next id
        self.highest_peer_id = 0  # the highest id the peer opened (agent side)
        self.unasked = 0  # frames without data since we last sent data (the flood counter)
        self.outbox: list[Frame] = []
        self.received: list[Frame] = []  # the frames of the last receive_data, for the trace
        self.closed: ConnectionClosed | None = None

    # -- sending ------------------------------------------------------------------------------

    def open_stream(self, head: dict[str, Any], end_stream: bool = False) -> int:
        """Start a new stream with a request head; return its id (the relay's side)."""
        if not self.opener:
            raise RuntimeError("only the relay opens streams")
        stream_id, self.next_stream_id = self.next_stream_id, self.next_stream_id + 2
        self.streams[stream_id] = self._new_stream(stream_id)
        self.send_headers(stream_id, head, end_stream)
        return stream_id

    def send_headers(self, stream_id: int, head: dict[str, Any], end_stream: bool = False) -> None:
        stream = self._stream(stream_id)
        payload = json.dumps(head, separators=(",", ":")).encode()
        if len(payload) > self.max_frame_size:
            raise ValueError(f"a head of {len(payload)} B does not fit one frame ({self.max_frame_size} B)")
        stream.machine.fire("send HEADERS")
        flags = Flags.END_STREAM if end_stream else Flags.NONE
        self._queue(Frame(FrameType.HEADERS, flags, stream_id, payload))
        if end_stream:
            self._end(stream, "send END_STREAM")

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> int:
        """Frame as much of ``data`` as the stream's window allows; return how many bytes that was.

        ``END_STREAM`` goes out only with the last byte: a caller left with a
        remainder waits for :class:`WindowUpdated` and calls again.
        """
        stream = self._stream(stream_id)
        accepted = min(len(data), stream.send_window)
        if accepted == 0 and data:
            return 0
        stream.machine.fire("send DATA")  # raises in half_closed_local / closed
        stream.send_window -= accepted
        body = data[:accepted]
        chunks = [body[i:i + self.max_frame_size] for i in range(0, accepted, self.max_frame_size)] or [b""]
        finished = end_stream and accepted == len(data)
        for n, chunk in enumerate(chunks):
            last = finished and n == len(chunks) - 1
            self._queue(Frame(FrameType.DATA, Flags.END_STREAM if last else Flags.NONE, stream_id, chunk))
        if finished:
            self._end(stream, "send END_STREAM")
        return accepted

    def send_window(self, stream_id: int) -> int:
        stream = self.streams.get(stream_id)
        return stream.send_window if stream else 0

    def acknowledge(self, stream_id: int, n: int) -> None:
        """Our application consumed ``n`` bytes of the stream: let the peer send ``n`` more."""
        stream = self.streams.get(stream_id)
        if n <= 0 or stream is None or stream.state in ("half_closed_remote", "closed"):
            return  # nothing more will come on it: no update needed
        stream.recv_window += n
        self._queue(Frame(FrameType.WINDOW_UPDATE, Flags.NONE, stream_id, WINDOW.pack(n)))

    def reset(self, stream_id: int, code: ErrorCode, reason: str = "") -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return  # already closed: RST_STREAM on a closed stream would be a protocol error
        stream.machine.fire("send RST_STREAM")
        self._queue(Frame(FrameType.RST_STREAM, Flags.NONE, stream_id, code_and_reason(code, reason)))

    def close(self, code: ErrorCode = ErrorCode.NO_ERROR, reason: str = "") -> ConnectionClosed:
        """Send GOAWAY; every stream is over."""
        if self.closed is None:
            self.closed = ConnectionClosed(code, reason, remote=False)
            self._queue(Frame(FrameType.GOAWAY, Flags.NONE, 0, code_and_reason(code, reason)))
            self.streams.clear()
        return self.closed

    def frames_to_send(self) -> list[Frame]:
        """What the driver must send now, in order (it serializes them with ``frames.serialize``)."""
        frames, self.outbox = self.outbox, []
        return frames

    # -- receiving ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; return what happened.  A connection error ends with ConnectionClosed."""
        if self.closed is not None:
            return []
        events: list[Event] = []
        self.received = []
        try:
            for frame in self.parser.feed(data):
                self.received.append(frame)
                events += self._receive_frame(frame)
                if self.closed is not None:
                    break
        except FrameError as exc:
            events.append(self.close(exc.code, exc.reason))
        return events

    def _receive_frame(self, frame: Frame) -> list[Event]:
        if frame.type is FrameType.GOAWAY:
            if frame.stream_id != 0:
                raise FrameError(ErrorCode.PROTOCOL_ERROR, f"GOAWAY on stream {frame.stream_id}, not 0")
            code, reason = parse_code_and_reason(frame.payload)
            self.closed = ConnectionClosed(code, reason, remote=True)
            self.streams.clear()
            return [self.closed]
        if frame.stream_id == 0:
            raise FrameError(ErrorCode.PROTOCOL_ERROR, f"{frame.type.name} on stream 0")
        if not frame.payload and frame.type is not FrameType.HEADERS and not frame.end_stream:
            self.unasked += 1
        if frame.type in (FrameType.WINDOW_UPDATE, FrameType.RST_STREAM):
            self.unasked += 1
        if self.unasked > self.flood_limit:
            raise FrameError(ErrorCode.ENHANCE_YOUR_CALM,
                             f"flood: {self.unasked} frames without data since we last sent any")
        stream = self.streams.get(frame.stream_id)
        if stream is None:
            if self._was_opened(frame.stream_id):
                # A stream we already closed: frames in flight are expected (section 5.1), such as
                # the agent's response HEADERS crossing our RST_STREAM when a public client left.
                return []
            if frame.type is FrameType.HEADERS:
                return self._peer_opens(frame)
            raise FrameError(ErrorCode.PROTOCOL_ERROR,
                             f"{frame.type.name} on stream {frame.stream_id}, which was never opened")
        try:
            return self._on_stream(stream, frame)
        except BadTransition as exc:
            self.reset(stream.id, ErrorCode.STREAM_CLOSED, str(exc))
            return [StreamReset(stream.id, ErrorCode.STREAM_CLOSED, str(exc), remote=False)]

    def _peer_opens(self, frame: Frame) -> list[Event]:
        if self.opener:
            raise FrameError(ErrorCode.PROTOCOL_ERROR,
                             f"HEADERS on stream {frame.stream_id}: the agent may not open streams")
        if frame.stream_id % 2 == 0 or frame.stream_id <= self.highest_peer_id:
            raise FrameError(ErrorCode.PROTOCOL_ERROR,
                             f"HEADERS on stream {frame.stream_id}: a new stream needs an odd id "
                             f"above {self.highest_peer_id}")
        self.highest_peer_id = frame.stream_id
        stream = self.streams[frame.stream_id] = self._new_stream(frame.stream_id)
        if len(self.streams) > self.max_streams:
            stream.machine.fire("recv HEADERS")  # it was opened, and is refused at once
            self.reset(stream.id, ErrorCode.REFUSED_STREAM, f"more than {self.max_streams} streams at once")
            return []
        return self._on_stream(stream, frame)

    def _on_stream(self, stream: Stream, frame: Frame) -> list[Event]:
        events: list[Event] = []
        if frame.type is FrameType.HEADERS:
            stream.machine.fire("recv HEADERS")
            events.append(HeadersReceived(stream.id, self._head(frame), frame.end_stream))
        elif frame.type is FrameType.DATA:
            stream.machine.fire("recv DATA")
            if len(frame.payload) > stream.recv_window:
                raise FrameError(ErrorCode.FLOW_CONTROL_ERROR,
                                 f"{len(frame.payload)} B of DATA on stream {stream.id} with a window of "
                                 f"{stream.recv_window} B")
            stream.recv_window -= len(frame.payload)
            events.append(DataReceived(stream.id, frame.payload, frame.end_stream))
        elif frame.type is FrameType.WINDOW_UPDATE:
            increment = self._increment(frame)
            if stream.send_window + increment > MAX_WINDOW:
                raise FrameError(ErrorCode.FLOW_CONTROL_ERROR, f"window of stream {stream.id} above 2^31-1")
            stream.send_window += increment
            return [WindowUpdated(stream.id, increment)]
        elif frame.type is FrameType.RST_STREAM:
            code, reason = parse_code_and_reason(frame.payload)
            stream.machine.fire("recv RST_STREAM")
            del self.streams[stream.id]
            return [StreamReset(stream.id, code, reason, remote=True)]
        if frame.end_stream:
            self._end(stream, "recv END_STREAM")
        return events

    # -- helpers ------------------------------------------------------------------------------

    def _new_stream(self, stream_id: int) -> Stream:
        return Stream(stream_id, send_window=self.initial_window, recv_window=self.initial_window)

    def _stream(self, stream_id: int) -> Stream:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise KeyError(f"stream {stream_id} is not open")
        return stream

    def _was_opened(self, stream_id: int) -> bool:
        if self.opener:
            return stream_id % 2 == 1 and stream_id < self.next_stream_id
        return stream_id % 2 == 1 and stream_id <= self.highest_peer_id

    def _end(self, stream: Stream, event: str) -> None:
        if stream.machine.fire(event) == "closed":
            del self.streams[stream.id]

    def _queue(self, frame: Frame) -> None:
        if frame.type in (FrameType.DATA, FrameType.HEADERS):
            self.unasked = 0  # the peer may now answer with window updates or resets
        self.outbox.append(frame)

    @staticmethod
    def _head(frame: Frame) -> dict[str, Any]:
        try:
            head = json.loads(frame.payload)
        except ValueError:
            head = None
        if not isinstance(head, dict):
            raise FrameError(ErrorCode.PROTOCOL_ERROR,
                             f"HEADERS on stream {frame.stream_id} is not a JSON object")
        return head

    @staticmethod
    def _increment(frame: Frame) -> int:
        if len(frame.payload) != WINDOW.size:
            raise FrameError(ErrorCode.FRAME_SIZE_ERROR, f"WINDOW_UPDATE of {len(frame.payload)} B, not 4")
        increment = WINDOW.unpack(frame.payload)[0] & 0x7FFFFFFF
        if increment == 0:
            raise FrameError(ErrorCode.PROTOCOL_ERROR, f"WINDOW_UPDATE of 0 on stream {frame.stream_id}")
        return increment
