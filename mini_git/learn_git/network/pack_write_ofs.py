"""A clone's pack with OFS_DELTA, beside ``pack_write.pack_from_store`` (the lesson).

Reading order: optional, after ``pack_write.py``.  The lesson copies each stored delta
as a REF_DELTA, naming its base by its 20-byte id, in the walk's order (a base may come
after its delta).  When the client says ``ofs-delta`` (git always does), git names the
base by its distance back in the same pack instead: 1-3 bytes.  :func:`pack_from_store`
here does that: before a reused delta it writes its base (if the base is being sent and
is not written yet), then the delta as an OFS_DELTA pointing back at it.  The stored
entries are still copied, never inflated or recompressed, as ``pack_write.PackReuse``
copies them; where each one is, is read once per pack file (:data:`LAYOUTS`).
``upload_pack.py`` (v0) and ``upload_pack_v2.fetch`` use it when the client asked for
``ofs-delta``;
``tests/mini_git/test_net_pack_ofs.py`` checks that git's ``index-pack`` reads it and
finds the same objects as in the lesson's pack.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from ..pack import OBJ_OFS_DELTA, OBJ_REF_DELTA, TYPE_CODES, TYPE_NAMES, parse_object_header, parse_ofs_offset
from .pack_write import encode_object_header


def encode_ofs_distance(distance: int) -> bytes:
    """The OFS_DELTA base distance as ``pack.parse_ofs_offset`` reads it (each continuation +1)."""
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))


# pack file -> {oid: (buf, start, end, base id or None, delta size, start of the delta's zlib stream)}:
# where each stored entry is, read once per pack file (a pack never changes once written), like
# the server's resolved packs (pack_stream.ResolvedPacks) and tree links (walk_fast.LINKS).
LAYOUTS: dict[object, dict[str, tuple]] = {}
LAYOUTS_LIMIT = 16


def layout(pack) -> dict[str, tuple]:
    """Every entry of one of the store's packs (``odb.packs``): where it is, and its delta base."""
    key = (pack.pack_path.resolve(), pack.pack_path.stat().st_mtime_ns)
    found = LAYOUTS.get(key)
    if found is not None:
        return found
    index, buf = pack.index, pack.buf
    starts = sorted((index.offset_at(i), index.names[i].hex()) for i in range(index.count))
    by_offset = dict(starts)
    ends = [offset for offset, _ in starts[1:]] + [len(buf) - 20]
    table = {}
    for (start, oid), end in zip(starts, ends, strict=True):
        type_code, size, header = parse_object_header(buf, start)
        pos = start + header
        base = None
        if type_code == OBJ_OFS_DELTA:
            distance, used = parse_ofs_offset(buf, pos)
            base, pos = by_offset.get(start - distance), pos + used
        elif type_code == OBJ_REF_DELTA:
            base, pos = bytes(buf[pos:pos + 20]).hex(), pos + 20
        elif type_code not in TYPE_NAMES:
            continue
        if type_code not in TYPE_NAMES and base is None:
            continue   # a base the idx does not know: read the object whole (odb.read) instead
        table.setdefault(oid, (buf, start, end, base, size, pos))
    if len(LAYOUTS) >= LAYOUTS_LIMIT:
        LAYOUTS.clear()
    LAYOUTS[key] = table
    return table


def pack_from_store(odb, oids: list[str], level: int = 1) -> bytes:
    """A pack of ``oids`` (each once; bases moved before their deltas), reused deltas as OFS_DELTA."""
    sending = set(oids)
    tables = [layout(pack) for pack in getattr(getattr(odb, "odb", odb), "packs", [])]
    parts = [b"PACK" + struct.pack(">II", 2, len(sending))]
    written: dict[str, int] = {}   # oid -> its offset in the new pack
    offset = 12

    def stored(oid: str) -> tuple | None:
        for table in tables:
            found = table.get(oid)
            if found is not None:
                return found
        return None

    for first in oids:
        # The chain from ``first`` down to the first base already written (or not a delta we
        # can reuse), then written from the bottom up, so that every base precedes its deltas.
        chain = []
        oid = first
        while oid not in written and oid not in chain:
            found = stored(oid)
            chain.append((oid, found))
            if found is None or found[3] is None or found[3] not in sending:
                break
            oid = found[3]
        for oid, found in reversed(chain):
            if oid in written:
                continue
            if found is not None and found[3] is None:
                record = bytes(found[0][found[1]:found[2]])     # a whole object, as stored
            elif found is not None and found[3] in written:
                buf, _, end, base, size, stream = found
                record = (encode_object_header(OBJ_OFS_DELTA, size)
                          + encode_ofs_distance(offset - written[base]) + bytes(buf[stream:end]))
            else:   # loose, or a delta whose base the client will not get: the whole object
                kind, data = odb.read(oid)
                record = encode_object_header(TYPE_CODES[kind], len(data)) + zlib.compress(data, level)
            written[oid] = offset
            parts.append(record)
            offset += len(record)
    body = b"".join(parts)
    return body + hashlib.sha1(body).digest()
