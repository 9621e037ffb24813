"""Writing a packfile (v2) and its index (idx v2).

Reading order: after ``pkt_line.py``; ``upload_pack.py`` calls it to answer a
fetch, ``pack_stream.py`` calls it to store a pack it received.
Spec: gitformat-pack "pack-*.pack files have the following format" and
"Version 2 pack-*.idx files support packs larger than 4 GiB".

A pack as written here::

    "PACK" | version=2 (4 bytes) | object count (4 bytes)      header, big-endian
    per object:  type+size varint header | zlib(object body)
    SHA-1 of everything above                                   trailer (20 bytes)

The object header: the first byte holds a "more" bit, 3 bits of type and the
low 4 bits of the size; each following byte holds a "more" bit and 7 more bits
of the size.  We never *compute* deltas: an object is either written whole,
or, when it already sits in one of our packs as a delta against another object
we are sending, its stored delta is copied (:class:`PackReuse`).  That keeps
the writer small and the packs close to git's in size; see NETWORK.md.

The idx maps object id -> offset in the pack, sorted so that a reader can
binary-search it; the 256-entry fan-out table says where each first byte starts.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The reading side (part 1's pack.py) owns the format constants and the entry parsers.
from ..pack import (
    IDX_SIGNATURE,
    OBJ_OFS_DELTA,
    OBJ_REF_DELTA,
    TYPE_CODES,
    TYPE_NAMES,
    parse_object_header,
    parse_ofs_offset,
)

LARGE_OFFSET = 0x80000000


@dataclass(frozen=True)
class PackedEntry:
    """Where one object landed in the pack: what the idx records."""

    oid: str
    offset: int
    crc32: int


def encode_object_header(type_code: int, size: int) -> bytes:
    """The varint header before each object's zlib stream (type in bits 4-6 of the first byte)."""
    first = (type_code << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(first | 0x80)
        first = size & 0x7F
        size >>= 7
    out.append(first)
    return bytes(out)


class PackWriter:
    """Builds a pack in memory, object by object; ``finish()`` adds the trailer.

    ``level`` is the zlib level: 1 is much faster than git's default and only a
    little larger, which suits a teaching server that packs on every fetch.
    """

    def __init__(self, count: int, level: int = 1) -> None:
        self.level = level
        self.count = count
        self.entries: list[PackedEntry] = []
        self._parts: list[bytes] = [b"PACK" + struct.pack(">II", 2, count)]
        self._offset = 12

    def add(self, oid: str, kind: str, data: bytes) -> None:
        header = encode_object_header(TYPE_CODES[kind], len(data))
        self.add_record(oid, header + zlib.compress(data, self.level))

    def add_record(self, oid: str, record: bytes) -> None:
        """An entry already encoded: header and zlib stream (a copied or a delta entry)."""
        if len(self.entries) == self.count:
            raise ValueError(f"pack was announced with {self.count} objects")
        self.entries.append(PackedEntry(oid, self._offset, zlib.crc32(record)))
        self._parts.append(record)
        self._offset += len(record)

    def finish(self) -> bytes:
        if len(self.entries) != self.count:
            raise ValueError(f"pack announced {self.count} objects but holds {len(self.entries)}")
        body = b"".join(self._parts)
        return body + hashlib.sha1(body).digest()


def write_pack(objects: Iterable[tuple[str, str, bytes]], count: int,
               level: int = 1) -> tuple[bytes, list[PackedEntry]]:
    """A complete pack of ``(oid, kind, data)`` objects, and where each one is."""
    writer = PackWriter(count, level)
    for oid, kind, data in objects:
        writer.add(oid, kind, data)
    return writer.finish(), writer.entries


def pack_from_store(odb, oids: list[str], level: int = 1, reuse: bool = True) -> bytes:
    """A pack of ``oids`` read from an object store (what upload-pack sends).

    With ``reuse``, objects that sit in one of the store's packs are copied as
    they are stored there: whole entries byte for byte, and deltas whose base
    is also being sent as REF_DELTA entries.  Everything else (loose objects,
    deltas against a base the other side will not get) is written whole.
    """
    writer = PackWriter(len(oids), level)
    reuse_from = PackReuse(getattr(odb, "odb", odb), set(oids)) if reuse else None
    for oid in oids:
        record = reuse_from.record(oid) if reuse_from is not None else None
        if record is not None:
            writer.add_record(oid, record)
        else:
            kind, data = odb.read(oid)
            writer.add(oid, kind, data)
    return writer.finish()


class PackReuse:
    """Find an object's entry in the store's packs and re-encode it for a new pack.

    An entry ends where the next one (in offset order) begins, so its zlib
    stream can be copied without inflating it.  An OFS_DELTA's base is named by
    its position in the *old* pack, which means nothing in the new one: it is
    rewritten as a REF_DELTA naming the base by id (gitformat-pack, "Deltified
    representation").
    """

    def __init__(self, odb, sending: set[str]) -> None:
        self.sending = sending
        self.where: dict[str, tuple[bytes, int, int, dict[int, str]]] = {}
        for pack in getattr(odb, "packs", []):
            index = pack.index
            starts = sorted((index.offset_at(i), index.names[i].hex()) for i in range(index.count))
            buf = pack.buf
            by_offset = dict(starts)
            ends = [offset for offset, _ in starts[1:]] + [len(buf) - 20]
            for (offset, oid), end in zip(starts, ends, strict=True):
                if oid in sending and oid not in self.where:
                    self.where[oid] = (buf, offset, end, by_offset)

    def record(self, oid: str) -> bytes | None:
        found = self.where.get(oid)
        if found is None:
            return None
        buf, offset, end, by_offset = found
        type_code, size, header = parse_object_header(buf, offset)
        if type_code in TYPE_NAMES:
            return bytes(buf[offset:end])          # a whole object: header and zlib stream as stored
        start = offset + header
        if type_code == OBJ_OFS_DELTA:
            distance, used = parse_ofs_offset(buf, start)
            base, start = by_offset.get(offset - distance), start + used
        else:
            base, start = bytes(buf[start:start + 20]).hex(), start + 20
        if base not in self.sending:
            return None                            # the receiver would lack the base: send it whole
        return encode_object_header(OBJ_REF_DELTA, size) + bytes.fromhex(base) + bytes(buf[start:end])


def write_idx(entries: list[PackedEntry], pack_checksum: bytes) -> bytes:
    """The idx v2 for a pack: fan-out, sorted ids, CRC32s, offsets, checksums."""
    ordered = sorted(entries, key=lambda entry: entry.oid)
    fanout = [0] * 256
    for entry in ordered:
        fanout[int(entry.oid[:2], 16)] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    small, large = [], []
    for entry in ordered:
        if entry.offset < LARGE_OFFSET:
            small.append(entry.offset)
        else:  # beyond 2 GiB: the 4-byte slot points into the 8-byte table
            small.append(LARGE_OFFSET | len(large))
            large.append(entry.offset)
    body = b"".join([
        IDX_SIGNATURE, struct.pack(">I", 2),
        struct.pack(">256I", *fanout),
        b"".join(bytes.fromhex(entry.oid) for entry in ordered),
        b"".join(struct.pack(">I", entry.crc32) for entry in ordered),
        b"".join(struct.pack(">I", offset) for offset in small),
        b"".join(struct.pack(">Q", offset) for offset in large),
        pack_checksum,
    ])
    return body + hashlib.sha1(body).digest()


def store_pack(git_dir: str | os.PathLike, pack: bytes, entries: list[PackedEntry]) -> Path:
    """Save ``pack`` and its idx under ``objects/pack/``; returns the .pack path.

    Both files are written to temporary names and renamed; the idx is renamed
    last, because readers find packs through their idx: until then the new
    objects are invisible, and a crash leaves only a stray temp file.
    """
    pack_dir = Path(git_dir) / "objects" / "pack"
    pack_dir.mkdir(parents=True, exist_ok=True)
    checksum = pack[-20:]
    name = f"pack-{checksum.hex()}"
    final_pack, final_idx = pack_dir / f"{name}.pack", pack_dir / f"{name}.idx"
    for data, final in ((pack, final_pack), (write_idx(entries, checksum), final_idx)):
        handle, temp = tempfile.mkstemp(dir=pack_dir, prefix="tmp_pack_")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(temp, 0o444)
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return final_pack
