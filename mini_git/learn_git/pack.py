"""Reading packfiles (version 2) and their ``.idx`` files (version 2).

Reading order: after ``delta.py``.  ``git gc`` moves loose objects into
``objects/pack/pack-<sha>.pack`` and writes a sorted index beside it; the
network sends the same pack format (part 2 reuses :func:`parse_object_header`,
:func:`parse_ofs_offset`, :func:`inflate` and :func:`read_pack_entry`).

Pack layout (Documentation/gitformat-pack.txt)::

    "PACK" | version: u32 = 2 | count: u32 | entries... | SHA-1 of everything before

    entry header: 1TTTSSSS 1SSSSSSS ... 0SSSSSSS   type T (3 bits), size S (4 bits, then 7 per byte)
    OBJ_OFS_DELTA: then a base distance (big-endian base-128, "+1" per extra byte), then zlib(delta)
    OBJ_REF_DELTA: then the base's 20-byte id, then zlib(delta)
    other types:   then zlib(object body); S is the inflated size

Index v2 layout::

    "\\377tOc" | version: u32 = 2 | fanout: 256 x u32 (count of ids with first byte <= i)
    | ids: N x 20 | crc32: N x u32 | offsets: N x u32 (high bit: index into the 64-bit table)
    | large offsets: M x u64 | pack SHA-1 | index SHA-1
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .delta import apply_delta
from .errors import CorruptObject

OBJ_COMMIT, OBJ_TREE, OBJ_BLOB, OBJ_TAG, OBJ_OFS_DELTA, OBJ_REF_DELTA = 1, 2, 3, 4, 6, 7
TYPE_NAMES = {OBJ_COMMIT: "commit", OBJ_TREE: "tree", OBJ_BLOB: "blob", OBJ_TAG: "tag"}
TYPE_CODES = {name: code for code, name in TYPE_NAMES.items()}
PACK_SIGNATURE = b"PACK"
IDX_SIGNATURE = b"\377tOc"


def parse_pack_header(buf: bytes) -> int:
    """Check the 12-byte pack header; return the object count."""
    if len(buf) < 12 or buf[:4] != PACK_SIGNATURE:
        raise CorruptObject("not a pack: missing 'PACK' signature")
    version, count = struct.unpack(">II", buf[4:12])
    if version not in (2, 3):
        raise CorruptObject(f"unsupported pack version {version}")
    return count


def parse_object_header(buf: bytes, offset: int) -> tuple[int, int, int]:
    """The entry header at ``offset`` -> (type code, inflated size, header length)."""
    pos = offset
    if pos >= len(buf):
        raise CorruptObject("pack truncated at an entry header")
    byte = buf[pos]
    pos += 1
    type_code, size, shift = (byte >> 4) & 7, byte & 0x0F, 4
    while byte & 0x80:
        if pos >= len(buf):
            raise CorruptObject("pack truncated inside an entry header")
        byte = buf[pos]
        pos += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    if type_code not in TYPE_NAMES and type_code not in (OBJ_OFS_DELTA, OBJ_REF_DELTA):
        raise CorruptObject(f"invalid pack entry type {type_code} at offset {offset}")
    return type_code, size, pos - offset


def parse_ofs_offset(buf: bytes, offset: int) -> tuple[int, int]:
    """An OFS_DELTA base distance at ``offset`` -> (distance back to the base, bytes used)."""
    pos = offset
    if pos >= len(buf):
        raise CorruptObject("pack truncated inside a delta base offset")
    byte = buf[pos]
    pos += 1
    distance = byte & 0x7F
    while byte & 0x80:
        if pos >= len(buf):
            raise CorruptObject("pack truncated inside a delta base offset")
        byte = buf[pos]
        pos += 1
        # Each continuation adds 1 before shifting, so no two encodings mean the same distance.
        distance = ((distance + 1) << 7) | (byte & 0x7F)
    return distance, pos - offset


def inflate(buf: bytes, offset: int, expected_size: int) -> tuple[bytes, int]:
    """zlib-inflate the stream at ``offset`` -> (data, compressed bytes consumed)."""
    d = zlib.decompressobj()
    view, pos, out = memoryview(buf), offset, []
    try:
        while not d.eof:
            if pos >= len(buf):
                raise CorruptObject(f"pack truncated inside zlib data at offset {offset}")
            chunk = view[pos:pos + 8192]
            out.append(d.decompress(chunk))
            pos += len(chunk)
    except zlib.error as exc:
        raise CorruptObject(f"bad zlib data at pack offset {offset}: {exc}") from exc
    data = b"".join(out)
    if len(data) != expected_size:
        raise CorruptObject(f"pack entry at {offset} inflates to {len(data)} bytes, "
                            f"header said {expected_size}")
    return data, pos - len(d.unused_data) - offset


@dataclass
class PackEntry:
    """One raw entry: for deltas ``data`` is the delta and the base is named by offset or id."""

    offset: int
    type_code: int
    data: bytes
    end: int  # offset of the next entry
    base_offset: int | None = None
    base_oid: str | None = None


def read_pack_entry(buf: bytes, offset: int) -> PackEntry:
    """Parse the entry at ``offset`` without resolving deltas."""
    type_code, size, n = parse_object_header(buf, offset)
    pos = offset + n
    base_offset = base_oid = None
    if type_code == OBJ_OFS_DELTA:
        distance, m = parse_ofs_offset(buf, pos)
        if distance <= 0 or distance > offset:
            raise CorruptObject(f"delta at {offset} points before the start of the pack")
        base_offset, pos = offset - distance, pos + m
    elif type_code == OBJ_REF_DELTA:
        if pos + 20 > len(buf):
            raise CorruptObject("pack truncated inside a delta base id")
        base_oid, pos = buf[pos:pos + 20].hex(), pos + 20
    data, used = inflate(buf, pos, size)
    return PackEntry(offset, type_code, data, pos + used, base_offset, base_oid)


class PackIndex:
    """A ``.idx`` v2 file: binary search from object id to pack offset."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != IDX_SIGNATURE:
            raise CorruptObject("pack index is not version 2 (no '\\377tOc' signature)")
        if struct.unpack(">I", data[4:8])[0] != 2:
            raise CorruptObject("unsupported pack index version")
        if hashlib.sha1(data[:-20]).digest() != data[-20:]:
            raise CorruptObject("pack index checksum mismatch")
        self.fanout = struct.unpack(">256I", data[8:8 + 1024])
        self.count = n = self.fanout[255]
        base = 8 + 1024
        self.names = [data[base + 20 * i: base + 20 * i + 20] for i in range(n)]
        crc_at = base + 20 * n
        off_at = crc_at + 4 * n
        self._offsets = struct.unpack(f">{n}I", data[off_at:off_at + 4 * n])
        self._large_at = off_at + 4 * n
        self._data = data
        self.pack_checksum = data[-40:-20]

    @classmethod
    def from_file(cls, path: Path) -> PackIndex:
        return cls(path.read_bytes())

    def offset_at(self, i: int) -> int:
        off = self._offsets[i]
        if off & 0x80000000:  # big packs: the real offset is in the 64-bit table
            at = self._large_at + 8 * (off & 0x7FFFFFFF)
            off = struct.unpack(">Q", self._data[at:at + 8])[0]
        return off

    def lookup(self, oid: str) -> int | None:
        raw = bytes.fromhex(oid)
        lo = self.fanout[raw[0] - 1] if raw[0] else 0
        hi = self.fanout[raw[0]]
        i = bisect_left(self.names, raw, lo, hi)
        return self.offset_at(i) if i < hi and self.names[i] == raw else None

    def __iter__(self) -> Iterator[str]:
        return (name.hex() for name in self.names)


class Pack:
    """A ``.pack`` with its index: read any object in it, following delta chains."""

    def __init__(self, pack_path: Path, idx_path: Path) -> None:
        self.pack_path, self.idx_path = Path(pack_path), Path(idx_path)
        self.index = PackIndex.from_file(self.idx_path)
        self._buf: bytes | None = None
        self._cache: dict[int, tuple[int, bytes]] = {}  # offset -> (type, body): delta bases are reused

    @property
    def buf(self) -> bytes:
        if self._buf is None:
            buf = self.pack_path.read_bytes()
            parse_pack_header(buf)
            if buf[-20:] != self.index.pack_checksum:
                raise CorruptObject(f"{self.pack_path.name} does not match its index")
            self._buf = buf
        return self._buf

    def __contains__(self, oid: str) -> bool:
        return self.index.lookup(oid) is not None

    def read(self, oid: str, read_other: Callable[[str], tuple[str, bytes]]) -> tuple[str, bytes] | None:
        """(kind, body) of ``oid`` or None if not in this pack; ``read_other`` finds REF_DELTA bases."""
        offset = self.index.lookup(oid)
        if offset is None:
            return None
        type_code, body = self.read_at(offset, read_other)
        return TYPE_NAMES[type_code], body

    def read_at(self, offset: int, read_other: Callable[[str], tuple[str, bytes]]) -> tuple[int, bytes]:
        # Iterative, so a long delta chain cannot overflow the Python stack.
        chain: list[PackEntry] = []
        while offset not in self._cache:
            entry = read_pack_entry(self.buf, offset)
            if entry.type_code in TYPE_NAMES:
                self._remember(offset, (entry.type_code, entry.data))
                break
            chain.append(entry)
            if len(chain) > 10_000:
                raise CorruptObject("delta chain too long (a loop?)")
            if entry.base_offset is not None:
                offset = entry.base_offset
            else:
                base_offset = self.index.lookup(entry.base_oid or "")
                if base_offset is None:
                    kind, body = read_other(entry.base_oid or "")
                    offset = -len(chain)  # a private cache slot for an outside base
                    self._cache[offset] = (TYPE_CODES[kind], body)
                else:
                    offset = base_offset
        type_code, body = self._cache[offset]
        for entry in reversed(chain):
            body = apply_delta(body, entry.data)
            self._remember(entry.offset, (type_code, body))
        return type_code, body

    def _remember(self, offset: int, value: tuple[int, bytes]) -> None:
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[offset] = value
