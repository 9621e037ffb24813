"""The session protocol's messages and the server's view of one client (pure: no sockets).

Reading order: frames -> **protocol** -> pty_session -> server / client -> demo.

``frames.py`` cuts the byte stream into frames; this module gives each frame
its meaning.  A client request becomes a small frozen dataclass
(:class:`Attach`, :class:`Input`, ...), and :class:`ServerConnection` checks
that it is allowed now.  The order of a conversation is a table (what the
docstring shows is drawn from ``CONNECTION`` and checked by a test)::

    idle     --LIST-->   idle
    idle     --LOG-->    idle
    idle     --ATTACH--> attached
    attached --INPUT-->  attached
    attached --RESIZE--> attached
    attached --LIST-->   attached
    attached --LOG-->    attached
    attached --DETACH--> idle
    attached --EXITED--> idle

``EXITED`` is the one move the server makes on its own: the session's program
ended, so its clients are attached to nothing.  ``INPUT`` while idle, or a
second ``ATTACH``, is a protocol error that names the state and what it
accepts; the server answers ``ERROR`` and closes that one connection.

Payloads (all integers big-endian)::

    ATTACH   rows:u16 cols:u16 name [NUL arg NUL arg ...]   a command creates the session
    RESIZE   rows:u16 cols:u16
    INPUT    raw bytes for the terminal
    LOG      name (empty: the attached session)
    SESSIONS one line per session: "name pid=N clients=N size=ROWSxCOLS"
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from wirelab_common.state_table import Machine, StateTable
from wirelab_common.wiretrace import shorten

from .frames import Frame, FrameError, FrameParser, FrameType, serialize

SIZE = struct.Struct("!HH")  # rows, cols: what struct winsize (TIOCSWINSZ) takes first
NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # a session name: safe in a file name and a trace line

CONNECTION = StateTable("session client", {
    ("idle", FrameType.LIST): "idle",
    ("idle", FrameType.LOG): "idle",
    ("idle", FrameType.ATTACH): "attached",
    ("attached", FrameType.INPUT): "attached",
    ("attached", FrameType.RESIZE): "attached",
    ("attached", FrameType.LIST): "attached",
    ("attached", FrameType.LOG): "attached",
    ("attached", FrameType.DETACH): "idle",
    ("attached", FrameType.EXITED): "idle",
})


@dataclass(frozen=True)
class Attach:
    name: str
    rows: int
    cols: int
    command: tuple[str, ...] = ()  # empty: attach only if the session exists


@dataclass(frozen=True)
class Detach:
    pass


@dataclass(frozen=True)
class Input:
    data: bytes


@dataclass(frozen=True)
class Resize:
    rows: int
    cols: int


@dataclass(frozen=True)
class ListSessions:
    pass


@dataclass(frozen=True)
class AskLog:
    name: str  # "" means the attached session


Request = Attach | Detach | Input | Resize | ListSessions | AskLog


class ProtocolError(Exception):
    """A frame that is well formed but wrong here: the connection ends with an ERROR frame."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ProtocolError(f"bad session name {name!r}: 1-32 of A-Z a-z 0-9 _ . -")
    return name


def _size(payload: bytes) -> tuple[int, int]:
    rows, cols = SIZE.unpack_from(payload)
    if not (0 < rows and 0 < cols):
        raise ProtocolError(f"a terminal of {rows}x{cols} has no room for a character")
    return rows, cols


def decode_request(frame: Frame) -> Request:
    """The request a client frame carries, or :class:`ProtocolError`."""
    payload = frame.payload
    if frame.type >= 0x80:
        raise ProtocolError(f"{frame.type.name} is a server-to-client frame")
    try:
        if frame.type is FrameType.ATTACH:
            rows, cols = _size(payload)
            name, *command = payload[SIZE.size:].decode().split("\0")
            return Attach(check_name(name), rows, cols, tuple(command))
        if frame.type is FrameType.RESIZE:
            if len(payload) != SIZE.size:
                raise ProtocolError(f"RESIZE carries {SIZE.size} bytes, not {len(payload)}")
            return Resize(*_size(payload))
        if frame.type is FrameType.INPUT:
            return Input(payload)
        if frame.type is FrameType.LOG:
            name = payload.decode()
            return AskLog(check_name(name) if name else "")
        if payload:
            raise ProtocolError(f"{frame.type.name} carries no payload, got {len(payload)} bytes")
        if frame.type is FrameType.DETACH:
            return Detach()
        if frame.type is FrameType.LIST:
            return ListSessions()
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed {frame.type.name} payload: {exc}") from None
    raise ProtocolError(f"{frame.type.name} has no meaning for the server")  # not reached: all handled


def encode_request(request: Request) -> bytes:
    """A request as bytes for the socket (the client side of :func:`decode_request`)."""
    if isinstance(request, Attach):
        text = "\0".join((request.name, *request.command))
        return serialize(FrameType.ATTACH, SIZE.pack(request.rows, request.cols) + text.encode())
    if isinstance(request, Resize):
        return serialize(FrameType.RESIZE, SIZE.pack(request.rows, request.cols))
    if isinstance(request, Input):
        return serialize(FrameType.INPUT, request.data)
    if isinstance(request, AskLog):
        return serialize(FrameType.LOG, request.name.encode())
    return serialize(FrameType.DETACH if isinstance(request, Detach) else FrameType.LIST)


class ServerConnection:
    """One client as the server sees it: bytes in, checked requests out.

    ``receive_data()`` raises :class:`FrameError` (bad bytes) or
    :class:`ProtocolError` (a good frame at the wrong time or with a bad
    payload); either way the driver answers ``ERROR`` and hangs up.
    """

    def __init__(self) -> None:
        self.parser = FrameParser()
        self.machine = Machine(CONNECTION, "idle")

    @property
    def state(self) -> str:
        return str(self.machine.state)

    def receive_data(self, data: bytes) -> list[Request]:
        requests = []
        for frame in self.parser.feed(data):
            request = decode_request(frame)
            if not self.machine.accepts(frame.type):
                expected = ", ".join(e.name for e in CONNECTION.expected(self.state))
                raise ProtocolError(f"{frame.type.name} is not allowed while {self.state} "
                                    f"(expected: {expected})")
            self.machine.fire(frame.type)
            requests.append(request)
        return requests

    def attach_failed(self) -> None:
        """The ATTACH named no session and gave no command: back to idle (the server sends ERROR)."""
        self.machine.state = "idle"

    def session_exited(self) -> None:
        if self.machine.accepts(FrameType.EXITED):
            self.machine.fire(FrameType.EXITED)


def describe(request: object) -> str:
    """A request as one trace line: its frame type and what it carries."""
    if isinstance(request, Attach):
        return f"ATTACH {request.name} {request.rows}x{request.cols} {' '.join(request.command)}".rstrip()
    if isinstance(request, Input):
        return f"INPUT {shorten(request.data, 60)}"
    if isinstance(request, Resize):
        return f"RESIZE {request.rows}x{request.cols}"
    if isinstance(request, AskLog):
        return f"LOG {request.name}".rstrip()
    return type(request).__name__.upper().replace("LISTSESSIONS", "LIST")


__all__ = ["CONNECTION", "Attach", "AskLog", "Detach", "FrameError", "Input", "ListSessions", "ProtocolError",
           "Request", "Resize", "ServerConnection", "decode_request", "describe", "encode_request"]
