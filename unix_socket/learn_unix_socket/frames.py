"""The session protocol's frames: a 5-byte header, then the payload (pure: bytes in, frames out).

Reading order: **frames** -> protocol -> pty_session -> server / client -> demo.

A Unix stream socket, like TCP, carries bytes, not messages: two ``send()``
calls may arrive as one ``recv()``, and one may arrive in pieces (see
``socket_types.py``).  So the protocol draws its own boundaries, with a
length prefix, the way tmux's imsg framing does::

     0        1                 5
    +--------+--------+--------+--------+--------+-----------------+
    |  type  |        length (big-endian, 32 bits)    | payload ... |
    +--------+--------+--------+--------+--------+-----------------+

``type`` names the message (:class:`FrameType`; client-to-server types are
below 0x80, server-to-client ones at 0x80 and above) and ``length`` counts
the payload bytes only.  A length over :data:`MAX_PAYLOAD` is refused as soon
as the header arrives, before any payload is buffered: a peer cannot make the
server hold a gigabyte by announcing one.

:class:`FrameParser` is the whole codec: ``feed(bytes)`` returns the frames
completed so far and keeps the rest; :func:`serialize` is the other way.
No sockets here, so each rule is tested with bytes written by hand.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

HEADER = struct.Struct("!BI")  # type (1 byte), payload length (4 bytes, network order)
MAX_PAYLOAD = 64 * 1024  # a terminal's output arrives in reads of a few KiB; 64 KiB is plenty


class FrameType(enum.IntEnum):
    # client -> server
    LIST = 0x01  # which sessions exist?
    ATTACH = 0x02  # rows, cols, name, optional command (creates the session if it is new)
    DETACH = 0x03  # leave the session running
    INPUT = 0x04  # keystrokes for the session's terminal
    RESIZE = 0x05  # rows, cols: the client's window changed (the session's program gets SIGWINCH)
    LOG = 0x06  # hand me the session's log as an open file descriptor (SCM_RIGHTS)
    # server -> client
    SESSIONS = 0x81  # one line per session: name, pid, clients, size
    ATTACHED = 0x82  # the name of the session now attached
    OUTPUT = 0x83  # bytes the session's terminal wrote
    DETACHED = 0x84  # you are no longer attached
    EXITED = 0x85  # the session's program ended (payload: its exit status as text)
    ERROR = 0x86  # what was wrong (UTF-8); after a protocol error the server closes the connection
    LOG_FD = 0x87  # the log's path; the descriptor travels beside this frame as ancillary data


class FrameError(Exception):
    """Bytes that are not a valid frame: the connection cannot continue."""


@dataclass(frozen=True)
class Frame:
    type: FrameType
    payload: bytes = b""

    def __str__(self) -> str:
        return f"{self.type.name} ({len(self.payload)} B)"


def serialize(frame_type: FrameType, payload: bytes = b"") -> bytes:
    """One frame as it goes on the wire."""
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
    return HEADER.pack(frame_type, len(payload)) + payload


class FrameParser:
    """Bytes from the socket in, complete frames out; a partial frame waits for more bytes."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Append ``data``; return every frame it completes.  Raises :class:`FrameError`."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            code, length = HEADER.unpack_from(self._buffer)
            try:
                frame_type = FrameType(code)
            except ValueError:
                raise FrameError(f"unknown frame type 0x{code:02x}") from None
            if length > self.max_payload:  # refuse before buffering what was announced
                raise FrameError(f"{frame_type.name} frame announces {length} bytes, "
                                 f"over the {self.max_payload}-byte limit")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(Frame(frame_type, bytes(self._buffer[HEADER.size:end])))
            del self._buffer[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)
