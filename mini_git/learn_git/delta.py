"""Git's delta format: rebuild an object from a base object and copy/insert instructions (pure).

Reading order: after ``objects.py``, before ``pack.py`` (packs store most
objects as deltas against a similar object).  Format (pack-format.txt,
"Deltified representation")::

    <base size: varint> <result size: varint> <instruction>...

    1xxxxxxx [offset bytes] [size bytes]   copy from the base; the 7 low bits say
                                           which of 4 offset and 3 size bytes follow
                                           (little-endian, missing bytes are 0;
                                           size 0 means 0x10000)
    0nnnnnnn <n bytes>                     insert the next n literal bytes (n >= 1)

The varints are little-endian base-128: 7 bits per byte, high bit = more.
Every read is bounds-checked: a delta comes from the network, so a bad one must
raise :class:`DeltaError`, never read past the buffers or build a wrong object.
"""

from __future__ import annotations

from .errors import CorruptObject


class DeltaError(CorruptObject):
    """The delta is malformed or does not fit its base."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A size varint at ``pos`` -> (value, position after it)."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise DeltaError("delta truncated inside a size")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def delta_sizes(delta: bytes) -> tuple[int, int, int]:
    """(base size, result size, position of the first instruction)."""
    base_size, pos = read_varint(delta, 0)
    result_size, pos = read_varint(delta, pos)
    return base_size, result_size, pos


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """The object ``delta`` describes when applied to ``base``."""
    base_size, result_size, pos = delta_sizes(delta)
    if base_size != len(base):
        raise DeltaError(f"delta expects a base of {base_size} bytes, got {len(base)}")
    out = bytearray()
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = size = 0
            for i in range(4):  # bits 0-3: which offset bytes follow
                if op & (1 << i):
                    if pos >= end:
                        raise DeltaError("delta truncated inside a copy offset")
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):  # bits 4-6: which size bytes follow
                if op & (0x10 << i):
                    if pos >= end:
                        raise DeltaError("delta truncated inside a copy size")
                    size |= delta[pos] << (8 * i)
                    pos += 1
            size = size or 0x10000
            if offset + size > len(base):
                raise DeltaError(f"copy of {size} bytes at {offset} runs past the {len(base)}-byte base")
            out += base[offset:offset + size]
        elif op:
            if pos + op > end:
                raise DeltaError("delta truncated inside an insert")
            out += delta[pos:pos + op]
            pos += op
        else:
            raise DeltaError("delta opcode 0 is reserved")
        if len(out) > result_size:
            raise DeltaError("delta produces more bytes than it declared")
    if len(out) != result_size:
        raise DeltaError(f"delta declared {result_size} bytes but produced {len(out)}")
    return bytes(out)
