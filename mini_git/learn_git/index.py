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
Unknown *optional* extensions (TREE, REUC, UNTR...) are skipped; required ones
(lowercase, e.g. ``link`` for split index) are refused with a clear message.
Pure: bytes in, entries out; ``read_index``/``write_index`` do the file I/O.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from pathlib import Path

from .errors import IndexFormatError

SIGNATURE = b"DIRC"
_ENTRY = struct.Struct(">10I20sH")  # 62 bytes before the path
FLAG_ASSUME_VALID, FLAG_EXTENDED = 0x8000, 0x4000


class IndexEntry:
    """One staged file: where it came from on disk (stat data) and which blob it is.

    A plain class with ``__slots__`` (not a dataclass: see ``objects.py`` on start-up cost);
    entries are mutable because a refresh or checkout updates them in place.
    """

    __slots__ = ("path", "oid", "mode", "size", "mtime_s", "mtime_ns", "ctime_s", "ctime_ns",
                 "dev", "ino", "uid", "gid", "stage", "assume_valid")

    def __init__(self, path: str, oid: str, mode: int, size: int = 0, mtime_s: int = 0, mtime_ns: int = 0,
                 ctime_s: int = 0, ctime_ns: int = 0, dev: int = 0, ino: int = 0, uid: int = 0, gid: int = 0,
                 stage: int = 0, assume_valid: bool = False) -> None:
        self.path = path  # slash-separated, utf-8 (surrogateescape for other bytes)
        self.oid = oid
        self.mode = mode  # 0o100644, 0o100755, 0o120000 or 0o160000
        # stat data when staged (each field cut to 32 bits, as the file format stores it)
        self.size, self.mtime_s, self.mtime_ns = size, mtime_s, mtime_ns
        self.ctime_s, self.ctime_ns = ctime_s, ctime_ns
        self.dev, self.ino, self.uid, self.gid = dev, ino, uid, gid
        self.stage = stage  # 0 = normal; 1/2/3 = base/ours/theirs while a merge conflict is unresolved
        self.assume_valid = assume_valid

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexEntry) and self._values() == other._values()

    __hash__ = None  # mutable: not usable as a dict key

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


def entry_from_stat(path: str, oid: str, st: os.stat_result) -> IndexEntry:
    m32 = 0xFFFFFFFF  # fields are 32 bits: larger values are truncated, as git does
    return IndexEntry(path, oid, mode_from_stat(st), st.st_size & m32, int(st.st_mtime) & m32,
                      st.st_mtime_ns % 1_000_000_000, int(st.st_ctime) & m32, st.st_ctime_ns % 1_000_000_000,
                      st.st_dev & m32, st.st_ino & m32, st.st_uid & m32, st.st_gid & m32)


def stat_matches(entry: IndexEntry, st: os.stat_result) -> bool:
    """True when the file on disk looks untouched since it was staged (git's ie_match_stat)."""
    m32 = 0xFFFFFFFF
    return (entry.size == st.st_size & m32 and entry.mtime_s == int(st.st_mtime) & m32
            and entry.mtime_ns == st.st_mtime_ns % 1_000_000_000 and entry.ctime_s == int(st.st_ctime) & m32
            and entry.ctime_ns == st.st_ctime_ns % 1_000_000_000 and entry.ino == st.st_ino & m32
            and entry.mode == mode_from_stat(st))


def parse_index(data: bytes) -> list[IndexEntry]:
    if len(data) < 32 or data[:4] != SIGNATURE:
        raise IndexFormatError("index file is not an index (no 'DIRC' signature)")
    if hashlib.sha1(data[:-20]).digest() != data[-20:]:
        raise IndexFormatError("index file checksum mismatch: the index is damaged")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        raise IndexFormatError(f"index version {version} is not supported by mini_git "
                               "(run 'git update-index --index-version 2')")
    entries, pos, end = [], 12, len(data) - 20
    for _ in range(count):
        if pos + _ENTRY.size > end:
            raise IndexFormatError("index truncated inside an entry")
        (ctime_s, ctime_ns, mtime_s, mtime_ns, dev, ino, mode, uid, gid, size, sha,
         flags) = _ENTRY.unpack_from(data, pos)
        start = pos
        pos += _ENTRY.size
        if flags & FLAG_EXTENDED:
            if version < 3:
                raise IndexFormatError("extended flag set in a version 2 index")
            (extended,) = struct.unpack_from(">H", data, pos)
            if extended:
                raise IndexFormatError("index entry uses intent-to-add/skip-worktree, unsupported")
            pos += 2
        nul = data.find(b"\0", pos, end)
        if nul < 0:
            raise IndexFormatError("index entry path has no terminator")
        path = data[pos:nul].decode("utf-8", "surrogateescape")
        pos = start + ((nul - start) // 8 + 1) * 8  # 1-8 NULs pad the entry to a multiple of 8
        entries.append(IndexEntry(path, sha.hex(), mode, size, mtime_s, mtime_ns, ctime_s, ctime_ns,
                                  dev, ino, uid, gid, (flags >> 12) & 3, bool(flags & FLAG_ASSUME_VALID)))
    while pos < end:
        if pos + 8 > end:
            raise IndexFormatError("index truncated inside an extension header")
        sig = data[pos:pos + 4]
        (size,) = struct.unpack_from(">I", data, pos + 4)
        if not (65 <= sig[0] <= 90):
            raise IndexFormatError(f"index extension {sig!r} is required but not supported by mini_git")
        pos += 8 + size  # optional extension (TREE cache, REUC, UNTR...): safe to ignore
    if pos != end:
        raise IndexFormatError("index extensions overrun the file")
    return entries


def serialize_index(entries: list[IndexEntry]) -> bytes:
    """A version 2 index with no extensions (git rebuilds its TREE cache when it needs one)."""
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
    out += hashlib.sha1(out).digest()
    return bytes(out)


def read_index(path: Path) -> list[IndexEntry]:
    """Entries of the index at ``path``; a missing index is an empty one."""
    try:
        return parse_index(Path(path).read_bytes())
    except FileNotFoundError:
        return []


def write_index(path: Path, entries: list[IndexEntry]) -> None:
    """Replace the index atomically through ``index.lock`` (as git does)."""
    lock = Path(str(path) + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise IndexFormatError(f"{lock} exists: another git process seems to be running") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(serialize_index(entries))
        os.replace(lock, path)
    except BaseException:
        lock.unlink(missing_ok=True)
        raise
