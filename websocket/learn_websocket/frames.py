"""Frames: the unit of everything sent after the handshake (RFC 6455 §5, §7.4).

Reading order: handshake -> opening -> **frames** -> protocol -> aio -> server / client.

This module turns one :class:`Frame` into bytes and bytes back into frames.
It knows the rules that can be checked on a single frame (§5.2 reserved bits,
§5.5 control frame limits, §5.1 masking by role) and raises
:class:`ProtocolError` with the close code the connection must close with.
Rules that span frames (fragmentation, UTF-8 across fragments, the close
handshake) belong to ``protocol.py``.

:class:`FrameParser` is written to be read: the header, its checks in the
order the RFC gives them, then the payload.  Its twin for speed,
``frames_fast.FastFrameParser``, is what connections use by default (see
``protocol.Connection``'s ``parser``); both give the same results.  Masking is
one big-integer XOR in both (``apply_mask``): a loop over bytes would be ~100x
slower and no clearer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from enum import IntEnum
from typing import NamedTuple


class Opcode(IntEnum):
    """§5.2 "Opcode", §11.8: what the payload is."""

    CONT = 0x0  # continuation of a fragmented message (§5.4)
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8  # 0x8-0xF are control frames (§5.5)
    PING = 0x9
    PONG = 0xA


CONTROL_OPCODES = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})
_OPCODES = {opcode.value: opcode for opcode in Opcode}  # None for an unknown opcode, not ValueError
MAX_CONTROL_PAYLOAD = 125  # §5.5: control frames carry at most 125 bytes


class CloseCode(IntEnum):
    """§7.4.1 status codes, named as in the IANA registry (§11.7)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001  # a server shutting down, a browser leaving the page
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003  # e.g. a text-only endpoint received binary
    NO_STATUS_RCVD = 1005  # never sent: stands for "the close frame had no code"
    ABNORMAL_CLOSURE = 1006  # never sent: "the TCP connection died without a close frame"
    INVALID_PAYLOAD = 1007  # "invalid frame payload data": text that is not UTF-8
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # 1012-1014 were registered after the RFC
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never sent


def close_code_is_sendable(code: int) -> bool:
    """§7.4.1-7.4.2: may ``code`` appear in a close frame on the wire?

    0-999 are not used; 1004 is reserved; 1005, 1006 and 1015 only ever stand
    for a missing code inside an implementation; other 1xxx codes are
    unassigned; 2000-2999 are for extensions (none here); 3000-3999 are
    registered by libraries and frameworks, 4000-4999 are private.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class ProtocolError(Exception):
    """The peer broke the protocol: close the connection with ``close_code`` (§7.1.7)."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(f"{close_code} {reason}")
        self.close_code = close_code
        self.reason = reason


class Frame(NamedTuple):
    """One frame (§5.2).  ``payload`` is always unmasked: masking exists only on the wire.

    Immutable like the events in ``protocol.py``, but a NamedTuple rather than a
    frozen dataclass: one is built for every frame, and a NamedTuple is built
    three times faster (a frozen dataclass sets each field through
    ``object.__setattr__``).
    """

    fin: bool
    opcode: Opcode
    payload: bytes = b""
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """§5.3: XOR ``data`` with the 4-byte ``mask`` repeated; masking and unmasking are the same.

    A loop over bytes in Python runs ~100x slower than this: the payload and
    the repeated key become two big integers, XORed in one C-level operation.
    """
    length = len(data)
    if length == 0:
        return b""
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


#  §5.2 Base Framing Protocol:
#
#   0                   1                   2                   3
#   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#  +-+-+-+-+-------+-+-------------+-------------------------------+
#  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
#  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
#  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
#  | |1|2|3|       |K|             |                               |
#  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
#  |     Extended payload length continued, if payload len == 127  |
#  + - - - - - - - - - - - - - - - +-------------------------------+
#  |                               |Masking-key, if MASK set to 1  |
#  +-------------------------------+-------------------------------+
#  | Masking-key (continued)       |          Payload Data         |
#  +-------------------------------- - - - - - - - - - - - - - - - +
#  :                     Payload Data continued ...                :
#  +---------------------------------------------------------------+
#
# Lengths are in network byte order: 7 bits if < 126, else 126 + 16 bits,
# else 127 + 64 bits.  The three header layouts as struct formats:
HEADER_7 = struct.Struct("!BB")  # byte 0: FIN RSV1-3 opcode; byte 1: MASK + length
HEADER_16 = struct.Struct("!BBH")
HEADER_64 = struct.Struct("!BBQ")
FIN, RSV1, RSV2, RSV3, MASK = 0x80, 0x40, 0x20, 0x10, 0x80


def serialize(frame: Frame, mask: bytes | None = None) -> bytes:
    """One frame as bytes; with a 4-byte ``mask`` (clients, §5.3) the payload is masked."""
    return encode(frame.opcode, frame.payload, frame.fin, mask,
                  (RSV1 if frame.rsv1 else 0) | (RSV2 if frame.rsv2 else 0) | (RSV3 if frame.rsv3 else 0))


def encode(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """:func:`serialize` without building a :class:`Frame` first (the send hot path)."""
    first = (FIN if fin else 0) | rsv | opcode
    mask_bit = MASK if mask else 0
    length = len(payload)
    if length < 126:
        header = HEADER_7.pack(first, mask_bit | length)
    elif length < 0x10000:
        header = HEADER_16.pack(first, mask_bit | 126, length)
    else:
        header = HEADER_64.pack(first, mask_bit | 127, length)
    if mask:
        return b"".join((header, mask, apply_mask(payload, mask)))
    return header + payload


class FrameParser:
    """Incremental §5.2 parser: :meth:`feed` any bytes, get back every complete frame.

    A frame may arrive split across any number of reads (or many frames in
    one read): the parser keeps the unparsed tail in a buffer.

    ``expect_masked`` is the role rule of §5.1: a server requires masked
    frames from the client, a client requires unmasked frames from the server.
    ``max_size`` (bytes of payload) is checked on the header, so a peer cannot
    make us buffer a huge frame before we refuse it.

    This is the version to read.  ``frames_fast.FastFrameParser`` gives the same
    frames and the same errors for the same bytes (a differential test feeds both
    random and malformed frames), with the checks folded into one table lookup.
    """

    # The encoder that goes with this parser: a Connection writes its frames with it.
    encode = staticmethod(encode)

    def __init__(self, *, expect_masked: bool, max_size: int | None = None) -> None:
        self.expect_masked = expect_masked
        self.max_size = max_size
        self._mask_bit = MASK if expect_masked else 0
        # §5.2: a 64-bit length must have its top bit clear, whatever max_size says.
        self._max_length = min(max_size, 2**63 - 1) if max_size is not None else 2**63 - 1
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame]:
        """Add ``data``; iterate the result for each complete frame.

        Iterating raises :class:`ProtocolError` at the first bad frame: a
        generator, so that the frames before a bad one are still handled.
        """
        self._buffer += data
        return self._parse()

    def _parse(self) -> Iterator[Frame]:
        buffer = self._buffer
        while True:
            header = self._read_header(buffer)
            if header is None:
                return  # not even the header is all there
            first, second, length, header_size = header
            # Check the header before waiting for the payload: fail fast.
            opcode = self._check_header(first, second, length)
            masked = bool(second & MASK)
            start = header_size + (4 if masked else 0)
            end = start + length
            if len(buffer) < end:
                return  # wait for the rest of the payload
            payload = bytes(buffer[start:end])
            if masked:
                payload = apply_mask(payload, bytes(buffer[header_size:start]))  # §5.3
            del buffer[:end]
            yield Frame(bool(first & FIN), opcode, payload)

    @staticmethod
    def _read_header(buffer: bytearray) -> tuple[int, int, int, int] | None:
        """(first byte, second byte, payload length, header size), or None if incomplete."""
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        length = second & 0x7F
        if length == 126:  # the length follows, in 16 bits
            if len(buffer) < 4:
                return None
            return first, second, HEADER_16.unpack_from(buffer)[2], 4
        if length == 127:  # the length follows, in 64 bits
            if len(buffer) < 10:
                return None
            return first, second, HEADER_64.unpack_from(buffer)[2], 10
        return first, second, length, 2

    def _check_header(self, first: int, second: int, length: int) -> Opcode:
        """The frame's opcode, or the :class:`ProtocolError` that names the rule its header breaks."""
        error = CloseCode.PROTOCOL_ERROR
        if first & (RSV1 | RSV2 | RSV3):  # §5.2: non-zero only if an extension says so
            raise ProtocolError(error, "reserved bits set without an extension")
        opcode = _OPCODES.get(first & 0x0F)
        if opcode is None:  # §5.2: "if an unknown opcode is received, ... Fail"
            raise ProtocolError(error, f"unknown opcode {first & 0x0F:#x}")
        if opcode in CONTROL_OPCODES:
            if not first & FIN:  # §5.5: "control frames MUST NOT be fragmented"
                raise ProtocolError(error, f"fragmented {opcode.name} frame")
            if length > MAX_CONTROL_PAYLOAD:  # §5.5
                raise ProtocolError(error, f"{opcode.name} payload of {length} bytes, over 125")
        if second & MASK != self._mask_bit:  # §5.1, both directions
            raise ProtocolError(error, "client frame not masked" if self.expect_masked
                                else "server frame masked")
        if length >> 63:  # §5.2: "the most significant bit MUST be 0"
            raise ProtocolError(error, "64-bit length with its top bit set")
        if length > self._max_length:
            raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"frame of {length} bytes is over {self.max_size}")
        return opcode


def parse_close_payload(payload: bytes) -> tuple[int, str]:
    """§5.5.1: a close payload is empty, or a 2-byte code then a UTF-8 reason.

    An empty payload gives (1005, "") -- "no status received" (§7.1.5).
    """
    if not payload:
        return CloseCode.NO_STATUS_RCVD, ""
    if len(payload) == 1:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "close payload of 1 byte")
    code = int.from_bytes(payload[:2], "big")
    if not close_code_is_sendable(code):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:  # §5.5.1: the reason "MUST be UTF-8"; §8.1 says 1007
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, "close reason is not UTF-8") from None
    return code, reason


def build_close_payload(code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
    """The payload of a close frame; ``code=None`` sends an empty one (allowed by §5.5.1)."""
    if code is None or code == CloseCode.NO_STATUS_RCVD:
        return b""
    if not close_code_is_sendable(code):
        raise ValueError(f"close code {code} may not be sent (§7.4)")
    payload = code.to_bytes(2, "big") + reason.encode("utf-8")
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ValueError(f"close reason is {len(payload) - 2} bytes; at most 123 fit (§5.5)")
    return payload
