"""A faster clone for our client, beside ``remote.receive_objects`` and ``remote.update_worktree``.

Reading order: optional, after ``remote.py``.  ``python -m learn_git clone`` uses it;
``python -m learn_git --plain clone`` runs the lesson's path alone.  The lesson reads the
received pack three times over (resolve, check every commit and tree, walk for
connectivity), then writes a *new* pack with every delta resolved and recompressed, and
checks out by reading each blob back from that pack.  git keeps the pack it received and
only writes an ``.idx`` beside it (``index-pack``); this module does the same:

- **one pass over the pack**: each entry is inflated once (part 1's ``pack.read_pack_entry``),
  its delta applied to a base resolved earlier, its id hashed, and its CRC-32 and offset
  noted for the ``.idx``;
- **one read of each tree**: ``walk_fast.links`` checks the tree (or hands it to
  ``objects.parse_tree``, which raises as the lesson does) and gives its links, which the
  connectivity walk then follows without parsing again;
- **the pack stored as received** with an ``.idx`` (``pack_write.store_pack``), deltas kept;
- **a checkout from memory** into the new, empty work tree: each directory made once, each
  file created exclusively (``O_EXCL``, never following a link) and its stat data taken from
  the open file, instead of part 1's ``switching.switch_trees``, which must also handle a
  work tree that already holds files.

Whatever it does not expect -- a thin pack whose bases we already store, a REF_DELTA
whose base comes later in the pack, a damaged entry -- goes to the lesson's
``pack_stream.receive_pack_bytes``, so errors read exactly as the lesson's.
``tests/mini_git/test_net_clone_fast.py`` clones the same repositories both ways and
requires the same refs, objects, index entries and files, with ``git fsck`` clean.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

from wirelab_common.wiretrace import Trace

from ..delta import delta_sizes
from ..errors import CorruptObject, ObjectMissing
from ..index import IndexEntry, entry_from_stat
from ..objects import hash_object, parse_commit, parse_tag
from ..pack import (
    OBJ_OFS_DELTA,
    OBJ_REF_DELTA,
    TYPE_NAMES,
    PackEntry,
    parse_pack_header,
    read_pack_entry,
)
from ..porcelain import save_index
from ..repo import Repository
from ..trees import flatten_tree
from . import remote
from .pack_stream import OverlayStore, PackError, ReceivedPack, check_parses, check_trailer
from .pack_write import PackedEntry, store_pack
from .transport_http import SERVER, HttpTransport, TransportError
from .walk_fast import links


def index_pack(pack: bytes) -> tuple[ReceivedPack, list[PackedEntry]] | None:
    """Every object of a self-contained pack, resolved, and where each entry sits in it.

    None when the pack is anything else (a base outside the pack or later in it, a damaged
    entry, a bad trailer): the lesson's ``receive_pack_bytes`` then says what is wrong.
    """
    try:
        count = parse_pack_header(pack)
        check_trailer(pack)
    except (CorruptObject, ValueError, PackError):
        return None
    body_end = len(pack) - 20
    body = pack[:body_end]   # as the lesson: no zlib stream can run into the trailer
    view = memoryview(body)
    result = ReceivedPack()
    objects = result.objects
    at_offset: dict[int, tuple[str, bytes]] = {}
    placed: list[PackedEntry] = []
    waiting: dict[str, list[PackEntry]] = {}   # base id -> REF_DELTAs met before their base

    def place(entry: PackEntry, kind: str, data: bytes) -> None:
        """Record one resolved object, then resolve the deltas that were waiting for it."""
        todo = [(entry, kind, data)]
        while todo:
            entry, kind, data = todo.pop()
            oid = hash_object(kind, data)
            objects[oid] = at_offset[entry.offset] = (kind, data)
            placed.append(PackedEntry(oid, entry.offset, zlib.crc32(view[entry.offset:entry.end])))
            for child in waiting.pop(oid, ()):
                result.deltas += 1
                todo.append((child, kind, apply_delta(data, child.data)))

    offset = 12
    try:
        for _ in range(count):
            if offset >= body_end:
                return None
            entry = read_pack_entry(body, offset)
            code = entry.type_code
            if code in TYPE_NAMES:
                place(entry, TYPE_NAMES[code], entry.data)
            elif code == OBJ_OFS_DELTA and entry.base_offset in at_offset:
                base_kind, base_data = at_offset[entry.base_offset]
                result.deltas += 1
                place(entry, base_kind, apply_delta(base_data, entry.data))
            elif code == OBJ_REF_DELTA and entry.base_oid in objects:
                base_kind, base_data = objects[entry.base_oid]
                result.deltas += 1
                place(entry, base_kind, apply_delta(base_data, entry.data))
            elif code == OBJ_REF_DELTA:
                waiting.setdefault(entry.base_oid, []).append(entry)   # its base may come later
            else:
                return None
            offset = entry.end
    except (CorruptObject, ObjectMissing, ValueError, IndexError):
        return None
    if waiting or offset != body_end or len(placed) != count or len(objects) != count:
        return None   # a base outside the pack (thin), trailing bytes, one object twice: the lesson
    return result, placed


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """``delta.apply_delta`` with its bit loops unrolled and its checks left to Python's own.

    A truncated or inconsistent delta raises (``IndexError``, ``ValueError``) instead of the
    lesson's ``DeltaError``; :func:`index_pack` then hands the pack to the lesson, which
    says what is wrong.
    """
    base_size, result_size, pos = delta_sizes(delta)
    if base_size != len(base):
        raise ValueError("delta base size")
    out = bytearray()
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = size = 0
            if op & 0x01:
                offset = delta[pos]
                pos += 1
            if op & 0x02:
                offset |= delta[pos] << 8
                pos += 1
            if op & 0x04:
                offset |= delta[pos] << 16
                pos += 1
            if op & 0x08:
                offset |= delta[pos] << 24
                pos += 1
            if op & 0x10:
                size = delta[pos]
                pos += 1
            if op & 0x20:
                size |= delta[pos] << 8
                pos += 1
            if op & 0x40:
                size |= delta[pos] << 16
                pos += 1
            size = size or 0x10000
            if offset + size > base_size:
                raise ValueError("delta copy past the base")
            out += base[offset:offset + size]
        elif op:
            if pos + op > end:
                raise ValueError("delta insert past its end")
            out += delta[pos:pos + op]
            pos += op
        else:
            raise ValueError("delta opcode 0")
    if len(out) != result_size:
        raise ValueError("delta result size")
    return bytes(out)


def object_links(received: ReceivedPack) -> dict[str, list[str]]:
    """What each commit, tree and tag points at, every one checked to parse (as ``check_parses``)."""
    out: dict[str, list[str]] = {}
    for oid, (kind, data) in received.objects.items():
        if kind == "tree":
            trees, others = links(data)   # raises CorruptObject where parse_tree would
            out[oid] = trees + others
        elif kind == "commit":
            commit = parse_commit(data)
            out[oid] = [commit.tree, *commit.parents]
        elif kind == "tag":
            out[oid] = [parse_tag(data).object]
        else:
            check_parses(kind, data)
    return out


def outside_objects(received: ReceivedPack, pointers: dict[str, list[str]], tips: list[str]) -> set[str]:
    """``walk.walk_received(...)[1]``: what the tips reach that the pack does not hold.

    First with sets, in C: when no object of the pack points outside it and every tip is
    in it, nothing the tips reach can be outside.  Otherwise the walk finds exactly what
    the tips reach (an object nothing reaches may point anywhere).
    """
    if all(tip in received.objects for tip in tips) and \
            set().union(*pointers.values()) <= received.objects.keys():
        return set()
    inside: set[str] = set()
    outside: set[str] = set()
    stack = list(tips)
    while stack:
        oid = stack.pop()
        if oid in inside or oid in outside:
            continue
        if oid not in received.objects:
            outside.add(oid)
            continue
        inside.add(oid)
        stack.extend(pointers.get(oid, ()))
    return outside


@dataclass
class FastClient:
    """The two steps of a clone that this module replaces; ``received`` links them."""

    received: ReceivedPack | None = None
    stored: list[str] = field(default_factory=list)   # the pack files written ("fast" or "lesson")

    def receive(self, repo: Repository, transport: HttpTransport, server_caps: list[str],
                wants: list[str], trace: Trace) -> int:
        """``remote.receive_objects``, keeping the received pack as it is."""
        pack = remote.request_pack(repo, transport, server_caps, wants, trace)
        indexed = index_pack(pack)
        if indexed is None:   # thin or damaged: the lesson's path, its checks and its errors
            self.stored.append("lesson")
            return remote.store_pack_bytes(repo, pack, wants, trace)
        received, placed = indexed
        pointers = object_links(received)
        missing = sorted(oid for oid in outside_objects(received, pointers, wants)
                         if not repo.odb.contains(oid))
        if missing:
            raise TransportError(f"pack is incomplete: {len(missing)} objects missing, e.g. {missing[0]}")
        trace.state(f"pack verified: {len(received)} objects ({received.deltas} deltas, 0 thin bases); "
                    "kept as received, with an .idx")
        store_pack(repo.git_dir, pack, placed)
        repo.odb.rescan()
        self.received = received
        self.stored.append("fast")
        return len(received)

    def checkout(self, repo: Repository, old_commit: str | None, new_commit: str) -> None:
        """``remote.update_worktree`` for a fresh clone, reading from memory."""
        if old_commit is not None or self.received is None:
            remote.update_worktree(repo, old_commit, new_commit)
            return
        store = OverlayStore(repo.odb, self.received)
        flat = flatten_tree(store, parse_commit(store.read_kind(new_commit, "commit")).tree)
        save_index(repo, write_fresh(repo, flat, store))


def write_fresh(repo: Repository, flat: dict, store: OverlayStore) -> list[IndexEntry]:
    """Write every file of ``flat`` into the empty work tree; their index entries.

    ``flatten_tree`` has checked every path (no ``..``, no ``.git``, no name twice in a
    tree, so no file is also a directory); the files are created with ``O_EXCL`` and
    ``O_NOFOLLOW``, so nothing already there is overwritten or followed.
    """
    root = os.fspath(repo.require_work_tree())
    made: set[str] = {""}
    entries = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for path, (mode, oid) in flat.items():
        if mode == 0o160000:
            continue   # submodules: kept in trees, never checked out
        parent = path.rpartition("/")[0]
        if parent not in made:
            os.makedirs(f"{root}/{parent}", exist_ok=True)
            while parent not in made:
                made.add(parent)
                parent = parent.rpartition("/")[0]
        data = store.read_kind(oid, "blob")
        full = f"{root}/{path}"
        if mode == 0o120000:
            os.symlink(os.fsdecode(data), full)
            st = os.lstat(full)
        else:
            fd = os.open(full, flags, 0o755 if mode == 0o100755 else 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                st = os.fstat(fd)
            finally:
                os.close(fd)
        entry = entry_from_stat(path, oid, st)
        entry.mode = mode
        entries.append(entry)
    return entries


def clone(url: str, directory: str | None, trace: Trace, checkout: bool = True,
          peer: str = SERVER) -> Repository:
    """``remote.clone`` with this module's receive and checkout."""
    client = FastClient()
    return remote.clone(url, directory, trace, checkout=checkout, peer=peer,
                        receive=client.receive, checkout_files=client.checkout)
