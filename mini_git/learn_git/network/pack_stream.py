"""Reading a pack that arrives over the wire: no idx, deltas, maybe thin.

Reading order: after ``pack_write.py``.  ``receive_pack.py`` (push, server
side) and ``remote.py`` (fetch, client side) both call :func:`receive_pack_bytes`.
Spec: gitformat-pack (pack layout, "Deltified representation"), and
gitprotocol-capabilities "thin-pack" for packs whose deltas point at objects
the receiver already has.

Three passes, all in memory, before anything touches the disk:

1. **Walk** the entries in order (part 1's ``pack.read_pack_entry`` decodes
   one header and inflates its zlib stream) and check the SHA-1 trailer.
2. **Resolve** deltas: an OFS_DELTA base is an earlier entry (by offset), a
   REF_DELTA base is any entry of the pack or, in a thin pack, an object the
   receiver already stores.
3. **Hash** every resolved object: its id is what the rest of the protocol
   will call it, and commits and trees must at least parse.

Only then does :func:`store_received` write one new, self-contained pack
(deltas resolved) with its idx.  If any pass fails, :class:`PackError` is
raised and the repository is exactly as it was.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..delta import apply_delta
from ..errors import CorruptObject, GitError, ObjectMissing
from ..objects import hash_object, parse_commit, parse_tag, parse_tree
from ..pack import OBJ_OFS_DELTA, OBJ_REF_DELTA, TYPE_NAMES, parse_pack_header, read_pack_entry
from .pack_write import store_pack, write_pack

ReadObject = Callable[[str], tuple[str, bytes]]


class PackError(GitError):
    """A received pack is malformed, truncated, fails its checksum, or needs a base we lack."""


@dataclass
class ReceivedPack:
    """Every object of a verified pack, resolved: ``oid -> (kind, data)``, in pack order."""

    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    thin_bases: set[str] = field(default_factory=set)   # outside objects that deltas used
    deltas: int = 0

    def __len__(self) -> int:
        return len(self.objects)


def check_trailer(pack: bytes) -> None:
    """The last 20 bytes must be the SHA-1 of everything before them."""
    if len(pack) < 32:
        raise PackError(f"pack of {len(pack)} bytes is too short (12-byte header + 20-byte trailer)")
    if hashlib.sha1(pack[:-20]).digest() != pack[-20:]:
        raise PackError("pack checksum mismatch: the SHA-1 trailer does not match the data")


def check_parses(kind: str, data: bytes) -> None:
    """Commits, trees and tags must be well formed before anything points at them."""
    if kind == "commit":
        parse_commit(data)
    elif kind == "tree":
        parse_tree(data)
    elif kind == "tag":
        parse_tag(data)


def receive_pack_bytes(pack: bytes, read_outside: ReadObject | None = None,
                       check_objects: bool = True) -> ReceivedPack:
    """Verify and resolve a whole pack; ``read_outside(oid)`` finds thin-pack bases.

    ``check_objects=False`` skips parsing commits and trees: only for packs we
    wrote ourselves or that git left in our own repository.
    """
    try:
        return _receive(pack, read_outside, check_objects)
    except (CorruptObject, ObjectMissing, ValueError) as exc:
        raise PackError(str(exc)) from exc


def _receive(pack: bytes, read_outside: ReadObject | None, check_objects: bool) -> ReceivedPack:
    count = parse_pack_header(pack)
    check_trailer(pack)
    body_end = len(pack) - 20
    # Pass 1: walk the entries; a corrupt or truncated entry stops us here.
    entries = []
    body = pack[:body_end]   # one copy, so no entry's zlib stream can run into the trailer
    offset = 12
    for number in range(count):
        if offset >= body_end:
            raise PackError(f"pack ends after {number} of its {count} objects")
        entry = read_pack_entry(body, offset)
        entries.append(entry)
        offset = entry.end
    if offset != body_end:
        raise PackError(f"{body_end - offset} unexpected bytes between the last object and the trailer")

    # Pass 2: resolve.  Whole objects first, then deltas whose base is known, repeated
    # until nothing changes: a REF_DELTA may name a base that comes later in the pack.
    result = ReceivedPack()
    resolved: dict[int, tuple[str, str, bytes]] = {}   # offset -> (oid, kind, data)
    by_oid: dict[str, tuple[str, bytes]] = {}
    pending = []
    for entry in entries:
        if entry.type_code in TYPE_NAMES:
            _remember(entry.offset, TYPE_NAMES[entry.type_code], entry.data, resolved, by_oid)
        else:
            pending.append(entry)
    result.deltas = len(pending)
    while pending:
        waiting = []
        for entry in pending:
            base = _find_base(entry, resolved, by_oid)
            if base is None:
                waiting.append(entry)
                continue
            kind, base_data = base
            _remember(entry.offset, kind, apply_delta(base_data, entry.data), resolved, by_oid)
        if len(waiting) == len(pending):
            # No progress inside the pack: the next base must come from the store (thin pack).
            entry = next((e for e in waiting if e.type_code == OBJ_REF_DELTA), None)
            if entry is None or read_outside is None:
                raise PackError(f"{len(waiting)} deltas have no base in the pack")
            try:
                by_oid[entry.base_oid] = read_outside(entry.base_oid)
            except ObjectMissing as exc:
                raise PackError(f"thin pack needs base {entry.base_oid}, which we do not have") from exc
            result.thin_bases.add(entry.base_oid)
        pending = waiting

    # Pass 3: every object by its id, checked to parse (a thin base stays where it was).
    for entry in entries:
        oid, kind, data = resolved[entry.offset]
        if check_objects:
            check_parses(kind, data)
        result.objects[oid] = (kind, data)
    return result


def _remember(offset: int, kind: str, data: bytes, resolved: dict, by_oid: dict) -> None:
    oid = hash_object(kind, data)
    resolved[offset] = (oid, kind, data)
    by_oid[oid] = (kind, data)


def _find_base(entry, resolved: dict, by_oid: dict) -> tuple[str, bytes] | None:
    if entry.type_code == OBJ_OFS_DELTA:
        found = resolved.get(entry.base_offset)
        return None if found is None else found[1:]
    return by_oid.get(entry.base_oid)


def store_received(git_dir: str | Path, received: ReceivedPack) -> Path | None:
    """Write ``received``'s objects as one complete pack + idx; None when there are none.

    receive-pack passes only the objects that the refs it is about to move
    reach and the store lacks; a fetch keeps the whole pack it asked for.

    The pack we write has no deltas, so it never depends on a thin-pack base
    outside itself, and its idx appears last (see ``pack_write.store_pack``).
    """
    objects = [(oid, kind, data) for oid, (kind, data) in received.objects.items()]
    if not objects:
        return None
    pack, entries = write_pack(objects, len(objects))
    return store_pack(git_dir, pack, entries)


class OverlayStore:
    """A received pack seen together with the store, before the pack is saved.

    Connectivity and fast-forward checks walk through it, so the new objects
    can be judged without being written first (git calls its version of this
    "quarantine").
    """

    def __init__(self, odb, received: ReceivedPack) -> None:
        self.odb = odb
        self.received = received

    def contains(self, oid: str) -> bool:
        return oid in self.received.objects or self.odb.contains(oid)

    def read(self, oid: str) -> tuple[str, bytes]:
        found = self.received.objects.get(oid)
        return found if found is not None else self.odb.read(oid)

    def read_kind(self, oid: str, kind: str) -> bytes:
        actual, data = self.read(oid)
        if actual != kind:
            raise CorruptObject(f"object {oid} is a {actual}, expected a {kind}")
        return data


class ResolvedPacks:
    """Whole packs, resolved once and kept: a server's shortcut for reading many objects.

    Reading objects one by one from a pack re-applies each object's delta
    chain; a clone reads every object, so it pays that again and again.
    Resolving a pack in one pass (as a received pack is) applies each delta
    once.  Pack files never change once written, so the result can be cached
    under the pack's name for as long as memory allows (``max_bytes``).
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._packs: dict[Path, dict[str, tuple[str, bytes]]] = {}
        self._sizes: dict[Path, int] = {}
        self._lock = threading.Lock()   # requests run in worker threads

    def store(self, odb) -> CachedStore:
        """A read-only view of ``odb`` that serves packed objects from this cache."""
        with self._lock:
            return CachedStore(odb, self._tables(odb))

    def _tables(self, odb) -> list[dict[str, tuple[str, bytes]]]:
        tables = []
        for pack in odb.packs:
            path = pack.pack_path.resolve()
            if path not in self._packs:
                if path.stat().st_size * 8 > self.max_bytes:
                    continue           # too big to hold resolved: read it object by object
                self._remember(path, receive_pack_bytes(path.read_bytes(), odb.read, check_objects=False))
            tables.append(self._packs[path])
        return tables

    def _remember(self, path: Path, received: ReceivedPack) -> None:
        size = sum(len(data) for _, data in received.objects.values())
        while self._packs and sum(self._sizes.values()) + size > self.max_bytes:
            oldest = next(iter(self._packs))
            del self._packs[oldest], self._sizes[oldest]
        self._packs[path], self._sizes[path] = received.objects, size


class CachedStore(OverlayStore):
    """The object store seen through resolved pack tables (the first table that has an object wins)."""

    def __init__(self, odb, tables: list[dict[str, tuple[str, bytes]]]) -> None:
        merged = ReceivedPack()
        for table in reversed(tables):
            merged.objects.update(table)
        super().__init__(odb, merged)
