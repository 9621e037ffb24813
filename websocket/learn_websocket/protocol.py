"""The connection state machine, sans-I/O (RFC 6455 §5.4-§5.5, §7).

Reading order: handshake -> opening -> frames -> **protocol** -> aio -> server / client.

Everything that decides what a WebSocket endpoint does lives in this file;
nothing here touches a socket, a clock or a random source (the mask source
is a parameter).  The contract, as in python-websockets:

1. feed what arrived with :meth:`Connection.receive_data` (or
   :meth:`Connection.receive_eof` when the peer closed TCP);
2. send whatever :meth:`Connection.data_to_send` returns;
3. handle :meth:`Connection.events_received`: messages, pings, pongs, and
   one :class:`Closed` at the end;
4. close TCP once :attr:`Connection.should_close_transport` is true.

The states and every way between them (``CONNECTION`` below, a
:class:`~wirelab_common.state_table.StateTable`; tests/test_state_tables.py
checks that this picture and the table agree)::

    CONNECTING --establish-->     OPEN
    CONNECTING --fail-->          CLOSED
    CONNECTING --receive_eof-->   CLOSED
    OPEN       --send_data-->     OPEN
    OPEN       --send_close-->    CLOSING
    OPEN       --receive_close--> CLOSING
    OPEN       --fail-->          CLOSED
    OPEN       --receive_eof-->   CLOSED
    CLOSING    --send_close-->    CLOSED
    CLOSING    --receive_close--> CLOSED
    CLOSING    --fail-->          CLOSED
    CLOSING    --receive_eof-->   CLOSED
    CLOSED     --receive_eof-->   CLOSED

CONNECTING belongs to the opening handshake (``opening.py``, §4): ``establish``
once the ``101`` is sent (server) or checked (client), ``fail`` when the
handshake cannot succeed.  A :class:`Connection` takes over the same machine
in OPEN; only OPEN may ``send_data`` (messages, pings, pongs: §5.5.1 allows
nothing but the close after a close).
CLOSING means one close frame has crossed the wire, CLOSED that both have
(the closing handshake of §7.1.2 is complete), or that the connection
failed (§7.1.7), or that TCP closed under us.  A peer's close is answered at
once (§5.5.1), so CLOSING after ``receive_close`` lasts only until the reply.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from wirelab_common.state_table import BadTransition, Machine, StateTable

from . import frames
from .frames import CloseCode, Frame, FrameParser, Opcode, ProtocolError
from .frames_fast import FastFrameParser, RandomPool


class Role(Enum):
    CLIENT = "client"  # masks what it sends (§5.3)
    SERVER = "server"  # requires masked frames, closes TCP first (§7.1.1)


class State(Enum):
    """The readyState of the WHATWG API, named as RFC 6455 names them (§4.1, §7)."""

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


CONNECTION = StateTable("connection", {
    (State.CONNECTING, "establish"): State.OPEN,
    (State.CONNECTING, "fail"): State.CLOSED,
    (State.CONNECTING, "receive_eof"): State.CLOSED,
    (State.OPEN, "send_data"): State.OPEN,
    (State.OPEN, "send_close"): State.CLOSING,
    (State.OPEN, "receive_close"): State.CLOSING,
    (State.OPEN, "fail"): State.CLOSED,
    (State.OPEN, "receive_eof"): State.CLOSED,
    (State.CLOSING, "send_close"): State.CLOSED,
    (State.CLOSING, "receive_close"): State.CLOSED,
    (State.CLOSING, "fail"): State.CLOSED,
    (State.CLOSING, "receive_eof"): State.CLOSED,
    (State.CLOSED, "receive_eof"): State.CLOSED,
})


# Events: what the application learns from the peer (small and immutable).
@dataclass(frozen=True, slots=True)
class TextMessage:
    text: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    data: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    data: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over: the peer's close code, ours if we failed it, or 1006."""

    code: int
    reason: str


Event = TextMessage | BinaryMessage | Ping | Pong | Closed
DEFAULT_MAX_MESSAGE_SIZE = 2**20


class Connection:
    """One endpoint of a WebSocket connection after the handshake.

    With ``record_frames=True``, ``frames_received`` and ``frames_sent`` list
    every frame in order, so that the I/O layer can trace them (it clears the
    lists once it has); by default nothing is kept: the fast path.

    ``parser`` reads the frames: ``frames_fast.FastFrameParser`` by default (what
    the benchmark measures), or ``frames.FrameParser``, the one to read; both give
    the same frames and errors.  Frames are written with the parser's ``encode``
    (``frames.encode``, or ``frames_fast.encode_fast``: the same bytes).

    ``machine`` is the opening handshake's, once it reached OPEN (``opening.py``);
    without one the connection starts OPEN, as after any successful handshake.
    An action the state does not allow raises
    :class:`~wirelab_common.state_table.BadTransition`: a bug in the caller, with
    no wire consequence (a peer's misbehaviour is a :class:`ProtocolError`).
    """

    def __init__(self, role: Role, *, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
                 fragment_size: int | None = None, auto_pong: bool = True,
                 mask_source: Callable[[int], bytes] | None = None, record_frames: bool = False,
                 machine: Machine | None = None, parser: type[FrameParser] = FastFrameParser) -> None:
        self.role = role
        self.machine = machine or Machine(CONNECTION, State.OPEN)
        if self.machine.state is not State.OPEN:
            raise ValueError(f"a Connection starts OPEN, not {self.machine.state.name}")
        self.max_message_size = max_message_size
        self.fragment_size = fragment_size  # split outgoing messages into frames of this size
        self.auto_pong = auto_pong  # False simulates a peer that never answers pings
        # A client's masks (§5.3): os.urandom's bytes, read 1 KiB at a time unless told otherwise.
        self._mask_source = (mask_source or RandomPool()) if role is Role.CLIENT else None
        self._parser = parser(expect_masked=role is Role.SERVER, max_size=max_message_size)
        self._encode = parser.encode  # frames.encode, or the fast parser's (the same bytes)
        self._events: list[Event] = []
        self._output: list[bytes] = []
        self.record_frames = record_frames
        self.frames_received: list[Frame] = []
        self.frames_sent: list[Frame] = []
        self.close_sent: tuple[int | None, str] | None = None
        self.close_received: tuple[int, str] | None = None
        self.close_code: int | None = None  # the code the application sees, once CLOSED
        self.close_reason = ""
        self.failed = False
        self.eof_received = False
        # A fragmented message in progress (§5.4): its opcode, parts so far, size.
        self._message_opcode: Opcode | None = None
        self._message_parts: list = []
        self._message_size = 0
        self._decoder: codecs.IncrementalDecoder | None = None

    @property
    def state(self) -> State:
        return self.machine.state

    def _transition(self, event: str) -> None:
        self.machine.fire(event)  # BadTransition names the state, the event and what was expected

    # -- input ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the network; frames become events."""
        if self.state is State.CLOSED:
            return  # §1.4, §5.5.1: nothing after the close handshake (or a failure) counts
        try:
            for frame in self._parser.feed(data):
                if self.record_frames:
                    self.frames_received.append(frame)
                self._receive_frame(frame)
                if self.state is State.CLOSED:
                    break
        except ProtocolError as error:
            self._fail(error.close_code, error.reason)

    def receive_eof(self) -> None:
        """The peer closed TCP.  Without a close handshake that is 1006 (§7.1.5)."""
        self.eof_received = True
        self._transition("receive_eof")
        if self.close_code is None:
            self._closed(CloseCode.ABNORMAL_CLOSURE, "TCP closed without a close frame")

    def _receive_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if self._message_opcode is not None:  # §5.4: fragments of one message are contiguous
                raise ProtocolError(CloseCode.PROTOCOL_ERROR,
                                    f"{opcode.name} frame inside a fragmented message")
            if frame.fin:  # the common case: a whole message in one frame
                self._events.append(self._whole_message(opcode, frame.payload))
            else:
                self._start_message(opcode, frame.payload)
        elif opcode is Opcode.CONT:
            self._continue_message(frame)
        elif opcode is Opcode.PING:
            self._events.append(Ping(frame.payload))
            if self.auto_pong and self.state is State.OPEN:
                self._send_frame(Opcode.PONG, frame.payload)  # §5.5.3: same payload back
        elif opcode is Opcode.PONG:
            self._events.append(Pong(frame.payload))
        else:
            self._receive_close(frame)

    def _whole_message(self, opcode: Opcode, payload: bytes) -> Event:
        if opcode is Opcode.BINARY:
            return BinaryMessage(payload)
        try:
            return TextMessage(payload.decode("utf-8"))
        except UnicodeDecodeError:  # §8.1: text must be UTF-8, else fail with 1007
            raise ProtocolError(CloseCode.INVALID_PAYLOAD, "text message is not UTF-8") from None

    def _start_message(self, opcode: Opcode, payload: bytes) -> None:
        self._message_opcode = opcode
        self._message_parts = []
        self._message_size = 0
        # An incremental decoder keeps a code point split across frames for the
        # next one, yet raises on the first byte that can never be valid UTF-8:
        # a bad message fails at the fragment that breaks it, not at its end.
        self._decoder = codecs.getincrementaldecoder("utf-8")() if opcode is Opcode.TEXT else None
        self._add_fragment(payload, final=False)

    def _continue_message(self, frame: Frame) -> None:
        if self._message_opcode is None:  # §5.4: nothing to continue
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, "continuation frame without a message")
        self._add_fragment(frame.payload, final=frame.fin)
        if frame.fin:
            parts, opcode = self._message_parts, self._message_opcode
            self._message_opcode, self._message_parts, self._decoder = None, [], None
            self._events.append(TextMessage("".join(parts)) if opcode is Opcode.TEXT
                                else BinaryMessage(b"".join(parts)))

    def _add_fragment(self, payload: bytes, final: bool) -> None:
        self._message_size += len(payload)
        if self.max_message_size is not None and self._message_size > self.max_message_size:
            raise ProtocolError(CloseCode.MESSAGE_TOO_BIG,
                                f"message over {self.max_message_size} bytes")
        if self._decoder is None:
            self._message_parts.append(payload)
            return
        try:
            self._message_parts.append(self._decoder.decode(payload, final))
        except UnicodeDecodeError:
            raise ProtocolError(CloseCode.INVALID_PAYLOAD, "text message is not UTF-8") from None

    def _receive_close(self, frame: Frame) -> None:
        code, reason = frames.parse_close_payload(frame.payload)
        self.close_received = (code, reason)
        self._transition("receive_close")
        if self.close_sent is None:
            # §5.5.1: answer with a close frame, "typically echoing the status code".
            self.send_close(None if code == CloseCode.NO_STATUS_RCVD else code)
        self._closed(code, reason)

    def _fail(self, code: int, reason: str) -> None:
        """§7.1.7 _Fail the WebSocket Connection_: send a close if we may, then stop."""
        if self.close_sent is None:
            self._send_frame(Opcode.CLOSE, frames.build_close_payload(code, reason[:100]))
            self.close_sent = (code, reason)
        self.failed = True
        self._transition("fail")
        self._closed(code, reason)

    def _closed(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        self._events.append(Closed(code, reason))

    # -- output --------------------------------------------------------------

    def send_text(self, text: str, fragment_size: int | None = None) -> None:
        self._send_message(Opcode.TEXT, text.encode("utf-8"), fragment_size)

    def send_binary(self, data: bytes, fragment_size: int | None = None) -> None:
        self._send_message(Opcode.BINARY, bytes(data), fragment_size)

    def _send_message(self, opcode: Opcode, payload: bytes, fragment_size: int | None) -> None:
        """One message, as one frame or as fragments of ``fragment_size`` bytes (§5.4)."""
        self._require_open(opcode)
        size = fragment_size or self.fragment_size
        if not size or len(payload) <= size:
            self._send_frame(opcode, payload)
            return
        for start in range(0, len(payload), size):
            fin = start + size >= len(payload)
            self._send_frame(opcode if start == 0 else Opcode.CONT, payload[start:start + size], fin)

    def send_ping(self, data: bytes = b"") -> None:
        self._require_open(Opcode.PING)
        self._send_control(Opcode.PING, data)

    def send_pong(self, data: bytes = b"") -> None:
        self._require_open(Opcode.PONG)
        self._send_control(Opcode.PONG, data)

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start (or answer) the closing handshake (§5.5.1, §7.1.2)."""
        if self.close_sent is not None:  # CLOSING allows send_close only to answer the peer's close
            raise BadTransition(CONNECTION.name, self.state, "send_close (a second time)",
                                [e for e in CONNECTION.expected(self.state) if e != "send_close"])
        payload = frames.build_close_payload(code, reason)  # raises ValueError for 1005, 1006, ...
        self._transition("send_close")
        self._send_frame(Opcode.CLOSE, payload)
        self.close_sent = (code, reason)

    def _send_control(self, opcode: Opcode, data: bytes) -> None:
        if len(data) > 125:
            raise ValueError(f"{opcode.name} payload is {len(data)} bytes; at most 125 (§5.5)")
        self._send_frame(opcode, bytes(data))

    def _require_open(self, opcode: Opcode) -> None:
        if self.state is not State.OPEN:  # §5.5.1: nothing but the close after a close
            CONNECTION.next(self.state, "send_data")  # raises BadTransition; the check above is the fast path

    def _send_frame(self, opcode: Opcode, payload: bytes, fin: bool = True) -> None:
        mask = self._mask_source(4) if self._mask_source else None  # §5.3: a fresh key per frame
        self._output.append(self._encode(opcode, payload, fin, mask))
        if self.record_frames:
            self.frames_sent.append(Frame(fin, opcode, payload))

    # -- what the I/O layer collects ------------------------------------------

    def data_to_send(self) -> bytes:
        """Bytes to write to the network, all at once (one write per flush)."""
        if not self._output:
            return b""
        data = self._output[0] if len(self._output) == 1 else b"".join(self._output)
        self._output.clear()
        return data

    def events_received(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    @property
    def should_close_transport(self) -> bool:
        """True once this side should close TCP now.

        §7.1.1: after the closing handshake the server closes TCP first, so
        that it, not the client, holds the TIME_WAIT state; the client waits
        for that (with a timeout in the I/O layer).  After a failure, or once
        the peer closed TCP, either side closes.
        """
        if self.state is not State.CLOSED:
            return False
        return self.role is Role.SERVER or self.failed or self.eof_received
