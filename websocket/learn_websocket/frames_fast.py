"""The frame parser again, for speed: same frames, same errors (RFC 6455 §5.2).

Not in the reading order: read ``frames.FrameParser`` for the rules.  This is
what ``protocol.Connection`` uses unless told otherwise (``parser=FrameParser``,
or ``python -m learn_websocket.server --parser plain``), because the codec
benchmark (``bench/bench_websocket.py --only codec``) measures it.

Three shortcuts, all about work per frame, none about the rules:

- **one table lookup for the first byte.**  No extension is negotiated, so RSV1-3
  must be 0, and a control frame must have FIN: the legal first bytes are few,
  and a dict from each to its opcode replaces four checks.  On a miss, the plain
  parser's ``_check_header`` runs and names the rule that was broken;
- **one trim per read.**  Frames are read at an offset into the buffer, which is
  cut once at the end of :meth:`feed`'s iteration, not once per frame;
- **one system call per 256 masks.**  A client masks every frame with 4 fresh
  random bytes (§5.3); :class:`RandomPool` reads ``os.urandom`` 1 KiB at a time
  and hands out slices, the same bytes a call per frame would give, without
  the call (it was a twentieth of the codec's time).

``tests/websocket/test_frames_fast.py`` feeds both parsers the same random and
malformed bytes, in random pieces, and requires the same frames and errors.
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
    apply_mask,
)

# The first header byte of every frame this endpoint accepts -> its opcode.
_CLOSE = Opcode.CLOSE  # the lowest control opcode
_LEGAL_FIRST_BYTES = {FIN | op: op for op in Opcode} | {op: op for op in Opcode if op not in CONTROL_OPCODES}


class RandomPool:
    """``os.urandom(n)``, served from a buffer refilled ``size`` bytes at a time (one per connection)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._pool = b""
        self._offset = 0

    def __call__(self, n: int) -> bytes:
        offset = self._offset
        if offset + n > len(self._pool):
            self._pool, offset = os.urandom(max(self._size, n)), 0
        self._offset = offset + n
        return self._pool[offset:offset + n]


class FastFrameParser(FrameParser):
    """:class:`~learn_websocket.frames.FrameParser` with the checks folded into a lookup."""

    def _parse(self) -> Iterator[Frame]:
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
                    payload = apply_mask(buffer[start:end], buffer[start - 4:start])
                else:
                    payload = bytes(buffer[start:end])
                offset = end
                yield Frame(first >= FIN, opcode, payload)  # FIN is the top bit
        finally:
            del buffer[:offset]  # drop everything parsed, once per feed
