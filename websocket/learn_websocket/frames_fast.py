"""The frame parser again, for speed: same frames, same errors (RFC 6455 §5.2).

Not in the reading order: read ``frames.FrameParser`` for the rules.  This is
what ``protocol.Connection`` uses unless told otherwise (``parser=FrameParser``,
or ``python -m learn_websocket.server --parser plain``), because the codec
benchmark (``bench/bench_websocket.py --only codec``) measures it.

Six shortcuts, all about work per frame, none about the rules:

- **one table lookup for the first byte.**  No extension is negotiated, so RSV1-3
  must be 0, and a control frame must have FIN: the legal first bytes are few,
  and a dict from each to its opcode replaces four checks.  On a miss, the plain
  parser's ``_check_header`` runs and names the rule that was broken;
- **one trim per read.**  Frames are read at an offset into the buffer, which is
  cut once at the end of :meth:`feed`'s iteration, not once per frame;
- **no copy when nothing is held back.**  When the buffer is empty (the usual
  case: a read ends at a frame's end), frames are read from the bytes fed, in
  place; only an unfinished tail is copied into the buffer;
- **a Frame as a bare tuple.**  ``tuple.__new__`` builds it, without the
  NamedTuple's ``__new__`` and its defaults (half the time);
- **one slice less per mask.**  :func:`apply_mask_fast` XORs little-endian
  integers of the payload and the mask repeated past it, and cuts the result
  once; :func:`encode_fast` (what a ``Connection`` with this parser writes
  with) uses it and builds a short header with ``bytes()``;
- **one system call per 256 masks.**  A client masks every frame with 4 fresh
  random bytes (§5.3); :class:`RandomPool` reads ``os.urandom`` 1 KiB at a time
  and hands out 4-byte slices cut all at once, the same bytes a call per frame
  would give, without the call (it was a twentieth of the codec's time).

``tests/websocket/test_frames_fast.py`` feeds both parsers the same random and
malformed bytes, in random pieces, and requires the same frames and errors; it
holds ``encode_fast`` and ``apply_mask_fast`` to the lesson's bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from .frames import (
    CONTROL_OPCODES,
    FIN,
    HEADER_16,
    HEADER_64,
    MASK,
    MAX_CONTROL_PAYLOAD,
    Frame,
    FrameParser,
    Opcode,
)

# The first header byte of every frame this endpoint accepts -> its opcode.
_CLOSE = Opcode.CLOSE  # the lowest control opcode
_LEGAL_FIRST_BYTES = {FIN | op: op for op in Opcode} | {op: op for op in Opcode if op not in CONTROL_OPCODES}


class RandomPool:
    """``os.urandom(n)``, served from a buffer refilled ``size`` bytes at a time (one per connection).

    A mask (``n == 4``, every frame a client sends) is the next of the pool's
    4-byte slices, cut all at once when the pool is refilled; any other ``n``
    is a slice at the pool's offset.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size - size % 4
        self._pool = b""
        self._offset = 0
        self._masks: Iterator[bytes] = iter(())

    def __call__(self, n: int) -> bytes:
        if n == 4:
            for mask in self._masks:  # the next mask, if any is left
                return mask
            pool = os.urandom(self._size)
            self._masks = iter([pool[i:i + 4] for i in range(4, self._size, 4)])
            return pool[:4]
        offset = self._offset
        if offset + n > len(self._pool):
            self._pool, offset = os.urandom(max(self._size, n)), 0
        self._offset = offset + n
        return self._pool[offset:offset + n]


def apply_mask_fast(data: bytes, mask: bytes) -> bytes:
    """:func:`~learn_websocket.frames.apply_mask` without trimming the key first.

    The key is the mask repeated past the payload's end; read little-endian, the
    surplus bytes are the integer's top bytes, so the XOR is made at the key's
    length and the result cut to the payload's (one slice instead of two).
    """
    length = len(data)
    if length == 0:
        return b""
    key = mask * (length // 4 + 1)
    return (_from_bytes(data, "little") ^ _from_bytes(key, "little")).to_bytes(len(key), "little")[:length]


_from_bytes = int.from_bytes
# Frame(fin, opcode, payload) without the NamedTuple's Python __new__: the tuple, RSV bits all 0.
_new_frame = tuple.__new__


def encode_fast(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None,
                rsv: int = 0) -> bytes:
    """:func:`~learn_websocket.frames.encode`, the same bytes: a short header from
    ``bytes()`` rather than ``struct``, and :func:`apply_mask_fast`."""
    length = len(payload)
    first = (FIN if fin else 0) | rsv | opcode
    if length < 126:
        header = bytes((first, MASK | length if mask else length))
    elif length < 0x10000:
        header = HEADER_16.pack(first, (MASK if mask else 0) | 126, length)
    else:
        header = HEADER_64.pack(first, (MASK if mask else 0) | 127, length)
    if mask:
        return header + mask + apply_mask_fast(payload, mask)
    return header + payload


class FastFrameParser(FrameParser):
    """:class:`~learn_websocket.frames.FrameParser` with the checks folded into a lookup."""

    encode = staticmethod(encode_fast)  # what a Connection using this parser writes frames with
    _unread: bytes | None = None  # bytes a generator reads in place, until it ends

    def feed(self, data: bytes) -> Iterator[Frame]:
        if self._unread is not None:  # the last feed's frames were not all read: keep its bytes
            self._buffer += self._unread
            self._unread = None
        if self._buffer or not isinstance(data, bytes):
            self._buffer += data
            return self._parse(self._buffer)
        # Nothing held back: read the frames straight from ``data``; only an
        # unfinished tail is copied into the buffer (in _parse's finally).
        self._unread = data
        return self._parse(data)

    def _parse(self, buffer: bytes | bytearray | None = None) -> Iterator[Frame]:
        if buffer is None:
            buffer = self._buffer
        legal, mask_bit, max_length = _LEGAL_FIRST_BYTES, self._mask_bit, self._max_length
        offset = 0  # start of the next unparsed frame: the buffer is trimmed once, at the end
        try:
            while True:
                size = len(buffer)
                if size - offset < 2:
                    return
                first, second = buffer[offset], buffer[offset + 1]
                length = second & 0x7F
                start = offset + 2
                if length == 126:
                    if size - offset < 4:
                        return
                    length = HEADER_16.unpack_from(buffer, offset)[2]
                    start += 2
                elif length == 127:
                    if size - offset < 10:
                        return
                    length = HEADER_64.unpack_from(buffer, offset)[2]
                    start += 8
                opcode = legal.get(first)
                if (opcode is None or second & MASK != mask_bit
                        or length > (MAX_CONTROL_PAYLOAD if opcode >= _CLOSE else max_length)):
                    self._check_header(first, second, length)  # raises, naming the rule
                if mask_bit:
                    start += 4
                end = start + length
                if size < end:
                    return  # wait for the rest of the payload
                if mask_bit:
                    payload = apply_mask_fast(buffer[start:end], buffer[start - 4:start])
                else:
                    payload = bytes(buffer[start:end])
                offset = end
                # FIN is the top bit; no RSV bit is set (no extension)
                yield _new_frame(Frame, (first >= FIN, opcode, payload, False, False, False))
        finally:
            if buffer is self._buffer:
                del buffer[:offset]  # drop everything parsed, once per feed
            elif self._unread is buffer:  # read in place: keep what is left of the bytes
                self._unread = None
                self._buffer += buffer[offset:]
