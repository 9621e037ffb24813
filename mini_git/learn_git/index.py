"""The index (``.git/index``, "the staging area"): version 2 of git's binary format.

Reading order: after ``objects.py``; ``add`` writes it, ``commit`` turns it into
trees, ``status`` compares it with the files.  Layout (gitformat-index(5))::

    "DIRC" | version: u32 (2) | entry count: u32
    entries, sorted by path then stage, each:
        ctime s | ctime ns | mtime s | mtime ns | dev | ino | mode | uid | gid | size   (10 x u32)
        object id (20 bytes)
        flags: u16 = assume-valid (1) | extended (1) | stage (2) | name length (12, 0xFFF if longer)
        path bytes, then 1-8 NULs so the entry length is a multiple of 8
    extensions: 4-byte signature | u32 size | data   (signature "A".."Z" first = optional)
    SHA-1 of everything above

The stat fields are why ``status`` is fast: a file whose size, mtime, ctime and
inode still match its entry is not read again.  Version 3 adds a second flags
word for entries with the extended bit; we read it, but refuse the flags it
carries (intent-to-add, skip-worktree) and version 4 (prefix-compressed paths).
Of the *optional* extensions only the top record of TREE (the "cache tree") is
read, and written after a commit: it says which tree the entries make, so
``status``'s fast path (``status_fast.py``) need not read a single tree to learn
that nothing is staged.  The
others (REUC, UNTR...) are skipped; required ones (lowercase, e.g. ``link`` for
split index) are refused with a clear message.
Pure: bytes in, entries out; ``read_index``/``write_index`` do the file I/O.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import IndexFormatError

SIGNATURE = b"DIRC"
_ENTRY = struct.Struct(">10I20sH")  # the fixed part of an entry, before the path
ENTRY_SIZE = _ENTRY.size  # 62
FLAG_ASSUME_VALID, FLAG_EXTENDED = 0x8000, 0x4000


@dataclass(slots=True)
class IndexEntry:
    """One staged file: where it came from on disk (stat data) and which blob it is.

    Mutable, because a refresh or checkout updates entries in place.
    """

    path: str  # slash-separated, utf-8 (surrogateescape for other bytes)
    oid: str
    mode: int  # 0o100644, 0o100755, 0o120000 or 0o160000
    # stat data when staged (each field cut to 32 bits, as the file format stores it)
    size: int = 0
    mtime_s: int = 0
    mtime_ns: int = 0
    ctime_s: int = 0
    ctime_ns: int = 0
    dev: int = 0
    ino: int = 0
    uid: int = 0
    gid: int = 0
    stage: int = 0  # 0 = normal; 1/2/3 = base/ours/theirs while a merge conflict is unresolved
    assume_valid: bool = False

    def __repr__(self) -> str:
        return f"IndexEntry({self.path!r}, {self.oid[:12]}, {self.mode:o}, stage={self.stage})"

    @property
    def path_bytes(self) -> bytes:
        return self.path.encode("utf-8", "surrogateescape")

    def sort_key(self) -> tuple[bytes, int]:
        return self.path_bytes, self.stage


def mode_from_stat(st: os.stat_result) -> int:
    """Git keeps only three file modes: a symlink, an executable file, any other file."""
    if stat.S_ISLNK(st.st_mode):
        return 0o120000
    if stat.S_ISDIR(st.st_mode):
        return 0o160000  # a directory in the index is a submodule (gitlink)
    return 0o100755 if st.st_mode & 0o100 else 0o100644


M32, NS = 0xFFFFFFFF, 1_000_000_000  # stat fields are 32 bits in the file: larger values are truncated
# st[ST_MTIME]: the whole seconds as an int, as the index stores them (st.st_mtime is a float)
ST_MTIME, ST_CTIME = stat.ST_MTIME, stat.ST_CTIME


def entry_from_stat(path: str, oid: str, st: os.stat_result) -> IndexEntry:
    return IndexEntry(path, oid, mode_from_stat(st), st.st_size & M32, st[ST_MTIME] & M32,
                      st.st_mtime_ns % NS, st[ST_CTIME] & M32, st.st_ctime_ns % NS, st.st_dev & M32,
                      st.st_ino & M32, st.st_uid & M32, st.st_gid & M32)


def stat_matches(entry: IndexEntry, st: os.stat_result) -> bool:
    """True when the file on disk looks untouched since it was staged (git's ie_match_stat):
    the same mtime, size, ctime, inode and mode as when it was staged."""
    return (entry.mtime_s == st[ST_MTIME] & M32 and entry.mtime_ns == st.st_mtime_ns % NS
            and entry.size == st.st_size & M32
            and entry.ctime_s == st[ST_CTIME] & M32 and entry.ctime_ns == st.st_ctime_ns % NS
            and entry.ino == st.st_ino & M32 and entry.mode == mode_from_stat(st))


def parse_index(data: bytes) -> list[IndexEntry]:
    """The entries of an index file (see :func:`parse_index_and_tree` for the cached tree too)."""
    return parse_index_and_tree(data)[0]


def parse_index_and_tree(data: bytes) -> tuple[list[IndexEntry], str | None]:
    """The entries, and the top tree's id if the TREE extension holds a valid one (else None)."""
    if len(data) < 32 or data[:4] != SIGNATURE:
        raise IndexFormatError("index file is not an index (no 'DIRC' signature)")
    if hashlib.sha1(data[:-20]).digest() != data[-20:]:
        raise IndexFormatError("index file checksum mismatch: the index is damaged")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        raise IndexFormatError(f"index version {version} is not supported by mini_git "
                               "(run 'git update-index --index-version 2')")
    entries, pos, end = [], 12, len(data) - 20
    # This loop runs once per tracked file on every command: the struct is precompiled and the
    # bound methods are looked up once, outside the loop.
    unpack, find, append = _ENTRY.unpack_from, data.find, entries.append
    for _ in range(count):
        if pos + ENTRY_SIZE > end:
            raise IndexFormatError("index truncated inside an entry")
        (ctime_s, ctime_ns, mtime_s, mtime_ns, dev, ino, mode, uid, gid, size, sha,
         flags) = unpack(data, pos)
        start = pos
        pos += ENTRY_SIZE
        if flags & FLAG_EXTENDED:
            if version < 3:
                raise IndexFormatError("extended flag set in a version 2 index")
            (extended,) = struct.unpack_from(">H", data, pos)
            if extended:
                raise IndexFormatError("index entry uses intent-to-add/skip-worktree, unsupported")
            pos += 2
        nul = find(b"\0", pos, end)
        if nul < 0:
            raise IndexFormatError("index entry path has no terminator")
        path = data[pos:nul].decode("utf-8", "surrogateescape")
        pos = start + ((nul - start) // 8 + 1) * 8  # 1-8 NULs pad the entry to a multiple of 8
        append(IndexEntry(path, sha.hex(), mode, size, mtime_s, mtime_ns, ctime_s, ctime_ns,
                          dev, ino, uid, gid, (flags >> 12) & 3, bool(flags & FLAG_ASSUME_VALID)))
    tree = None
    while pos < end:
        if pos + 8 > end:
            raise IndexFormatError("index truncated inside an extension header")
        sig = data[pos:pos + 4]
        (size,) = struct.unpack_from(">I", data, pos + 4)
        if not (65 <= sig[0] <= 90):
            raise IndexFormatError(f"index extension {sig!r} is required but not supported by mini_git")
        if sig == b"TREE":
            tree = cached_top_tree(data[pos + 8:pos + 8 + size], len(entries))
        pos += 8 + size  # other optional extensions (REUC, UNTR...): safe to ignore
    if pos != end:
        raise IndexFormatError("index extensions overrun the file")
    return entries, tree


def cached_top_tree(ext: bytes, entry_count: int) -> str | None:
    """The top tree's id from a TREE extension ("cache tree"), or None if it is marked invalid.

    The extension is a tree of records, top directory first, each::

        path NUL | entry count (ASCII) SP | subtree count (ASCII) LF | object id (20 bytes)

    The id is present only when the entry count is not -1 (git writes -1 once a path under that
    directory was staged since the tree was last computed).  Only the top record matters to us.
    """
    nl = ext.find(b"\n")
    if not ext.startswith(b"\0") or nl < 0:
        return None  # not the record layout we know: ignore it, as for any optional extension
    covered, _, _subtrees = ext[1:nl].partition(b" ")
    if covered != str(entry_count).encode() or len(ext) < nl + 21:
        return None  # invalid (-1), or not covering exactly our entries
    return ext[nl + 1:nl + 21].hex()


def serialize_index(entries: list[IndexEntry], tree: str | None = None) -> bytes:
    """A version 2 index; with ``tree``, a TREE extension saying the entries make that top tree.

    Only the top record is written (with no subtrees): git accepts that and fills in the
    subdirectories the next time it computes trees.  ``tree`` must be the id ``write_tree`` gives
    exactly these entries -- git trusts it -- so a conflicted index never gets one.
    """
    ordered = sorted(entries, key=IndexEntry.sort_key)
    out = bytearray(SIGNATURE + struct.pack(">II", 2, len(ordered)))
    for e in ordered:
        name = e.path_bytes
        flags = (FLAG_ASSUME_VALID if e.assume_valid else 0) | (e.stage << 12) | min(len(name), 0xFFF)
        start = len(out)
        out += _ENTRY.pack(e.ctime_s, e.ctime_ns, e.mtime_s, e.mtime_ns, e.dev, e.ino, e.mode,
                           e.uid, e.gid, e.size, bytes.fromhex(e.oid), flags)
        out += name
        out += b"\0" * (8 - (len(out) - start) % 8)
    if tree is not None and not any(e.stage for e in ordered):
        record = b"\0" + f"{len(ordered)} 0\n".encode() + bytes.fromhex(tree)
        out += b"TREE" + struct.pack(">I", len(record)) + record
    out += hashlib.sha1(out).digest()
    return bytes(out)


def read_index(path: Path) -> list[IndexEntry]:
    """Entries of the index at ``path``; a missing index is an empty one."""
    return read_index_and_tree(path)[0]


def read_index_and_tree(path: Path) -> tuple[list[IndexEntry], str | None]:
    """Entries and cached top tree (see :func:`parse_index_and_tree`); a missing index is empty."""
    try:
        with open(path, "rb") as f:
            return parse_index_and_tree(f.read())
    except FileNotFoundError:
        return [], None


def write_index(path: Path, entries: list[IndexEntry], tree: str | None = None) -> None:
    """Replace the index atomically through ``index.lock`` (as git does); ``tree``: see above."""
    lock = Path(str(path) + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise IndexFormatError(f"{lock} exists: another git process seems to be running") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(serialize_index(entries, tree))
        os.replace(lock, path)
    except BaseException:
        lock.unlink(missing_ok=True)
        raise
