"""The frame parser again, for speed: same frames, same errors (RFC 6455 §5.2).

Not in the reading order: read ``frames.FrameParser`` for the rules.  This is
what ``protocol.Connection`` uses unless told otherwise (``parser=FrameParser``,
or ``python -m learn_websocket.server --parser plain``), because the codec
benchmark (``bench/bench_websocket.py --only codec``) measures it.

Two shortcuts, both about work per frame, neither about the rules:

- **one table lookup for the first byte.**  No extension is negotiated, so RSV1-3
  must be 0, and a control frame must have FIN: the legal first bytes are few,
  and a dict from each to its opcode replaces four checks.  On a miss, the plain
  parser's ``_check_header`` runs and names the rule that was broken;
- **one trim per read.**  Frames are read at an offset into the buffer, which is
  cut once at the end of :meth:`feed`'s iteration, not once per frame.

``tests/websocket/test_frames_fast.py`` feeds both parsers the same random and
malformed bytes, in random pieces, and requires the same frames and errors.
"""

from __future__ import annotations

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
_LEGAL_FIRST_BYTES = {FIN | op: op for op in Opcode} | {op: op for op in Opcode if op not in CONTROL_OPCODES}


class FastFrameParser(FrameParser):
    """:class:`~learn_websocket.frames.FrameParser` with the checks folded into a lookup."""

    def _parse(self) -> Iterator[Frame]:
        buffer = self._buffer
        offset = 0  # start of the next unparsed frame: the buffer is trimmed once, at the end
        try:
            while True:
                available = len(buffer) - offset
                if available < 2:
                    return
                first, second = buffer[offset], buffer[offset + 1]
                length = second & 0x7F
                header_size = 2
                if length == 126:
                    if available < 4:
                        return
                    length = HEADER_16.unpack_from(buffer, offset)[2]
                    header_size = 4
                elif length == 127:
                    if available < 10:
                        return
                    length = HEADER_64.unpack_from(buffer, offset)[2]
                    header_size = 10
                opcode = _LEGAL_FIRST_BYTES.get(first)
                if (opcode is None or second & MASK != self._mask_bit
                        or length > (MAX_CONTROL_PAYLOAD if opcode >= Opcode.CLOSE else self._max_length)):
                    self._check_header(first, second, length)  # raises, naming the rule
                start = offset + header_size + (4 if second & MASK else 0)
                end = start + length
                if len(buffer) < end:
                    return  # wait for the rest of the payload
                if second & MASK:
                    payload = apply_mask(buffer[start:end], buffer[start - 4:start])
                else:
                    payload = bytes(buffer[start:end])
                offset = end
                yield Frame(first & FIN == FIN, opcode, payload)
        finally:
            del buffer[:offset]  # drop everything parsed, once per feed
