"""The tunnel's frames: how many HTTP exchanges share one WebSocket (pure: bytes in, frames out).

Reading order: **frames** -> mux -> session -> relay / agent -> demo.

The relay and the agent talk over one WebSocket.  Every public request
becomes a *stream*, and every piece of a stream travels as a *frame* that
names its stream, so requests interleave instead of queueing behind each
other.  The layout is HTTP/2's (RFC 9113 section 4.1), cut down::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-----------------------------------------------+---------------+
    |                 Length (24)                   |   Type (8)    |
    +---------------+-----------------------------------------------+
    |   Flags (8)   |               Stream Identifier (32)  ...
    +---------------+-----------------------------------------------+
       ...          |          Payload (Length octets)  ...
    +---------------+-----------------------------------------------+

Frame types (the payload of each):

- ``DATA`` (0x0): body bytes.  Flag ``END_STREAM`` (0x1): the sender's last.
- ``HEADERS`` (0x1): a request or response head, as JSON (HTTP/2 would use
  HPACK; JSON keeps the bytes readable in a trace).  May carry ``END_STREAM``.
- ``RST_STREAM`` (0x3): code (32) + reason (UTF-8): this stream is over,
  e.g. ``CANCEL`` when the public client went away.
- ``GOAWAY`` (0x7): code (32) + reason: the whole connection is over, and why.
- ``WINDOW_UPDATE`` (0x8): increment (32): the receiver consumed that many
  bytes of the stream's DATA, so the sender may send that many more.

The WebSocket message boundaries mean nothing to the parser: it buffers, so
a frame may arrive split over messages, or several in one.  A length above
``max_frame_size`` is refused before the payload is even buffered, so a peer
cannot make us hold a huge frame.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

HEADER = struct.Struct("!BHBBI")  # length as 8 + 16 bits (no 24-bit struct code), type, flags, stream
HEADER_SIZE = HEADER.size  # 9, as in HTTP/2
MAX_FRAME_SIZE = 16_384  # RFC 9113's default SETTINGS_MAX_FRAME_SIZE


class FrameType(enum.IntEnum):
    DATA = 0x0
    HEADERS = 0x1
    RST_STREAM = 0x3
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8


class Flags(enum.IntFlag):
    NONE = 0x0
    END_STREAM = 0x1


class ErrorCode(enum.IntEnum):
    """RFC 9113 section 7's codes, the ones this tunnel uses."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    ENHANCE_YOUR_CALM = 0xB


class FrameError(Exception):
    """A frame that ends the connection: GOAWAY with ``code`` and ``reason``."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code.name}: {reason}")
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Frame:
    type: FrameType
    flags: Flags
    stream_id: int
    payload: bytes = b""

    @property
    def end_stream(self) -> bool:
        return bool(self.flags & Flags.END_STREAM)

    def summary(self) -> str:
        """One trace line: ``HEADERS #1 END_STREAM 57 B``."""
        flags = " END_STREAM" if self.end_stream else ""
        return f"{self.type.name} #{self.stream_id}{flags} {len(self.payload)} B"


def serialize(frame: Frame) -> bytes:
    length = len(frame.payload)
    if length >= 1 << 24:
        raise ValueError(f"payload of {length} B does not fit the 24-bit length")
    header = HEADER.pack(length >> 16, length & 0xFFFF, frame.type, frame.flags, frame.stream_id)
    return header + frame.payload


def code_and_reason(code: ErrorCode, reason: str) -> bytes:
    """The payload of RST_STREAM and GOAWAY."""
    return struct.pack("!I", code) + reason.encode()[:512]


def parse_code_and_reason(payload: bytes) -> tuple[ErrorCode, str]:
    if len(payload) < 4:
        raise FrameError(ErrorCode.FRAME_SIZE_ERROR, f"a code needs 4 bytes, got {len(payload)}")
    raw = struct.unpack("!I", payload[:4])[0]
    try:
        code = ErrorCode(raw)
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR  # RFC 9113 section 7: unknown codes are treated as INTERNAL_ERROR
    return code, payload[4:].decode(errors="replace")


class FrameParser:
    """Bytes in (any split), whole frames out."""

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER_SIZE:
            high, low, raw_type, raw_flags, stream_id = HEADER.unpack_from(self.buffer)
            length = high << 16 | low
            if length > self.max_frame_size:  # checked before waiting for the payload
                raise FrameError(ErrorCode.FRAME_SIZE_ERROR,
                                 f"frame of {length} B exceeds the maximum of {self.max_frame_size} B")
            if len(self.buffer) < HEADER_SIZE + length:
                break
            try:
                frame_type = FrameType(raw_type)
            except ValueError:
                raise FrameError(ErrorCode.PROTOCOL_ERROR, f"unknown frame type 0x{raw_type:x}") from None
            payload = bytes(self.buffer[HEADER_SIZE:HEADER_SIZE + length])
            del self.buffer[:HEADER_SIZE + length]
            frames.append(Frame(frame_type, Flags(raw_flags & Flags.END_STREAM), stream_id & 0x7FFFFFFF,
                                payload))
        return frames
