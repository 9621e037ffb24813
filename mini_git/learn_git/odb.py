"""The object database: ``.git/objects``, loose files and packs (file-system layer).

Reading order: after ``objects.py`` and ``pack.py``.  A loose object lives in
``objects/<first 2 hex>/<other 38 hex>`` as zlib(``<kind> <size>\\0<body>``);
packed objects live in ``objects/pack/*.pack`` with an ``.idx`` each.

Writes are atomic: the object goes to a temporary file in the same directory
and is renamed into place, so a reader (or a crash) never sees half an object.
Every read checks the header size and the SHA-1, so a damaged object raises
:class:`CorruptObject` instead of being believed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import zlib
from pathlib import Path

from .errors import CorruptObject, ObjectMissing
from .objects import hash_object, object_header, split_object

__all__ = ["ObjectStore", "ObjectMissing", "CorruptObject"]


def check_oid(oid: str) -> str:
    if len(oid) != 40 or any(c not in "0123456789abcdef" for c in oid):
        raise ObjectMissing(f"not a full object id: {oid!r}")
    return oid


class ObjectStore:
    """Read and write objects under ``<git_dir>/objects`` (pass the *common* dir for worktrees)."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = Path(git_dir)
        self.objects_dir = self.git_dir / "objects"
        self.packs: list = []  # of pack.Pack
        self._pack_names: set[str] = set()
        self._made_dirs: set[str] = set()  # objects/xx directories known to exist (write)
        self._pid, self._tmp_ids = os.getpid(), itertools.count()  # temporary files' names
        self.rescan()

    # ------------------------------------------------------------ packs
    def add_pack(self, pack_path: Path, idx_path: Path) -> None:
        """Start reading objects from a pack (e.g. one just received over the network)."""
        from .pack import Pack  # imported on first use: most commands in a fresh repo never need it

        key = str(Path(pack_path).resolve())
        if key not in self._pack_names:
            self.packs.append(Pack(Path(pack_path), Path(idx_path)))
            self._pack_names.add(key)

    def rescan(self) -> None:
        """Pick up packs that appeared in ``objects/pack`` since we last looked."""
        pack_dir = self.objects_dir / "pack"
        if pack_dir.is_dir():
            for idx in sorted(pack_dir.glob("pack-*.idx")):
                pack = idx.with_suffix(".pack")
                if pack.exists():
                    self.add_pack(pack, idx)

    # ------------------------------------------------------------ reading
    def loose_path(self, oid: str) -> Path:
        return self.objects_dir / oid[:2] / oid[2:]

    def contains(self, oid: str) -> bool:
        check_oid(oid)
        if self.loose_path(oid).exists() or any(oid in p for p in self.packs):
            return True
        self.rescan()
        return any(oid in p for p in self.packs)

    def read(self, oid: str) -> tuple[str, bytes]:
        """(kind, body) of ``oid``, loose or packed, verified against its id."""
        check_oid(oid)
        path = self.loose_path(oid)
        try:
            compressed = path.read_bytes()
        except FileNotFoundError:
            return self._read_packed(oid)
        try:
            raw = zlib.decompress(compressed)
        except zlib.error as exc:
            raise CorruptObject(f"object {oid} is not valid zlib data ({exc})") from exc
        if hashlib.sha1(raw).hexdigest() != oid:
            raise CorruptObject(f"object {oid} hashes to {hashlib.sha1(raw).hexdigest()}: file damaged")
        return split_object(raw)

    def _read_packed(self, oid: str) -> tuple[str, bytes]:
        for attempt in range(2):
            for pack in self.packs:
                found = pack.read(oid, self.read)
                if found is not None:
                    kind, body = found
                    if hash_object(kind, body) != oid:
                        raise CorruptObject(f"packed object {oid} does not match its id")
                    return found
            if attempt == 0:
                self.rescan()
        raise ObjectMissing(f"object {oid} not found (neither loose nor in a pack)")

    def read_kind(self, oid: str, kind: str) -> bytes:
        """The body of ``oid``, which must be a ``kind`` object."""
        actual, body = self.read(oid)
        if actual != kind:
            raise CorruptObject(f"object {oid} is a {actual}, expected a {kind}")
        return body

    def iter_loose(self):
        """Every loose object id (for fsck-like checks and tests)."""
        for sub in sorted(self.objects_dir.glob("[0-9a-f][0-9a-f]")):
            for f in sorted(sub.iterdir()):
                if len(f.name) == 38:
                    yield sub.name + f.name

    # ------------------------------------------------------------ writing
    def write(self, kind: str, data: bytes) -> str:
        """Store ``data`` as a loose ``kind`` object; a no-op if it already exists.  Returns the id."""
        oid = hash_object(kind, data)
        # No pack rescan here (unlike ``contains``): a pack that arrived meanwhile only means we
        # store a duplicate loose copy, which is harmless, and a directory scan per object is not.
        # Plain strings, not Path objects: ``add .`` calls this once per file.
        directory = os.path.join(self.objects_dir, oid[:2])
        path = os.path.join(directory, oid[2:])
        if os.path.exists(path) or any(oid in p for p in self.packs):
            return oid
        if directory not in self._made_dirs:
            os.makedirs(directory, exist_ok=True)
            self._made_dirs.add(directory)
        compressed = zlib.compress(object_header(kind, len(data)) + data, 1)
        # The temporary file is created read-only (objects are immutable; git makes them so too)
        # and exclusively: O_EXCL fails rather than share a name with another writer.
        while True:
            tmp = os.path.join(directory, f"tmp_obj_{self._pid}_{next(self._tmp_ids)}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
                break
            except FileExistsError:
                continue
        try:
            try:
                written = 0
                while written < len(compressed):
                    written += os.write(fd, compressed[written:])
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return oid
