"""``status``'s fast path: the shortcuts a large, clean work tree needs, beside the plain lesson.

Reading order: after ``commands/status.py``, which is the lesson; this module
gives the same answers faster in the common case and hands every other case
to it.  ``python -m learn_git status`` runs it (``cli.py`` picks it at
start-up); ``python -m learn_git --plain status`` skips it.
``tests/mini_git/test_git_status_paths.py`` runs both on many repositories and
compares their answers and output.

Where the plain ``status`` spends its time on 2,000 files, and what this does instead:

- **Imports.**  The plain path imports the whole core (``objects``, ``refs``, ``odb``,
  ``trees``...), and with it ``dataclasses`` (which imports ``inspect``): 21-26 ms
  measured before any work, against 6-10 ms for this one.  This module imports only
  the standard library and ``status_report`` (``paths`` through it), and reads the few
  files it needs itself.  Its SHA-1 is CPython's ``_sha1`` (``hashlib`` would load
  OpenSSL), and ``__main__.py`` calls :func:`quick` before ``cli.py`` -- and argparse,
  which imports ``gettext`` and ``locale`` -- for a bare ``status [--porcelain]``.
- **HEAD vs index.**  The plain path flattens HEAD's 200 trees and compares them with
  the index.  Here, the index's cache tree (the top record of git's ``TREE``
  extension, which ``commit`` writes) names the tree its entries make: if that is
  HEAD's tree, nothing is staged and no tree is read at all.
- **Index vs work tree.**  One ``lstat`` per file on a path joined by concatenation,
  and the stat data compared as one tuple (git's mode of each ``st_mode`` memoised).
- **Untracked files.**  One listing per directory that holds tracked files, minus the
  index's names for it as a set; an untracked directory is searched only until its
  first file (enough to print ``?? dir/``).

:func:`collect` returns None -- "ask the plain path" -- whenever a shortcut does not
apply: no ``.git`` directory at the top of the work tree (a linked worktree, a bare
repository), an unborn or symbolic-chain HEAD, a HEAD commit that is not a loose
object, an index that is not plain version 2, a conflict, a missing or stale cache
tree (something is staged), or a file whose stat data changed but whose content did
not (the plain path then writes the fresh stat data back to the index).
"""

from __future__ import annotations

import os
import stat
import struct
import sys
import zlib

try:  # CPython's own SHA-1: importing hashlib loads OpenSSL's libcrypto, ~10 ms of start-up
    from _sha1 import sha1
except ImportError:  # another Python: hashlib's is the same function
    from hashlib import sha1

from . import status_report as report

ENTRY = struct.Struct(">10I20sH")  # the fixed part of an index entry (index.py explains it)
M32, NS = 0xFFFFFFFF, 1_000_000_000
GIT_MODES: dict[int, int] = {}  # st_mode -> git's mode, filled as met (a tree has few distinct ones)


def git_mode(st_mode: int) -> int:
    mode = GIT_MODES.get(st_mode)
    if mode is None:
        if stat.S_ISLNK(st_mode):
            mode = 0o120000
        elif stat.S_ISDIR(st_mode):
            mode = 0o160000
        else:
            mode = 0o100755 if st_mode & 0o100 else 0o100644
        GIT_MODES[st_mode] = mode
    return mode


def find_work_tree(start: str) -> str | None:
    """The directory above ``start`` holding a ``.git`` directory; None for anything else."""
    here = os.path.abspath(start)
    while True:
        dot_git = os.path.join(here, ".git")
        if os.path.isdir(dot_git):
            return here if os.path.exists(os.path.join(dot_git, "HEAD")) else None
        if os.path.lexists(dot_git):
            return None  # a .git file: a linked worktree (the plain path follows it)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def head_commit(git_dir: str) -> tuple[str | None, str] | None:
    """(branch ref or None when detached, commit id) of HEAD; None for anything unusual."""
    head = (read_text(os.path.join(git_dir, "HEAD")) or "").strip()
    if not head.startswith("ref: "):
        return (None, head) if len(head) == 40 else None
    ref = head[5:]
    loose = read_text(os.path.join(git_dir, ref))
    if loose is not None:
        oid = loose.strip()
        return (ref, oid) if len(oid) == 40 else None
    for line in (read_text(os.path.join(git_dir, "packed-refs")) or "").splitlines():
        oid, _, name = line.partition(" ")
        if name == ref and len(oid) == 40:
            return ref, oid
    return None  # unborn


def commit_tree(git_dir: str, oid: str) -> str | None:
    """The tree id of a loose commit, its hash verified; None if it is not a loose commit."""
    try:
        with open(os.path.join(git_dir, "objects", oid[:2], oid[2:]), "rb") as f:
            raw = zlib.decompress(f.read())
    except (OSError, zlib.error):
        return None
    if sha1(raw).hexdigest() != oid or not raw.startswith(b"commit "):
        return None
    body = raw[raw.index(b"\0") + 1:]
    if not body.startswith(b"tree ") or body[45:46] != b"\n":
        return None
    return body[5:45].decode()


def read_index(path: str) -> tuple[list[tuple], str | None] | None:
    """(entries as tuples, the cache tree's top id) of a plain v2 index without conflicts."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) < 32 or data[:4] != b"DIRC" or sha1(data[:-20]).digest() != data[-20:]:
        return None
    version, count = struct.unpack_from(">II", data, 4)
    if version != 2:
        return None
    entries, offset, unpack = [], 12, ENTRY.unpack_from
    end = len(data) - 20
    for _ in range(count):
        if offset + 62 > end:
            return None  # entries run past the checksum: the plain path reports the damage
        (ctime_s, ctime_ns, mtime_s, mtime_ns, _dev, ino, mode, _uid, _gid, size, sha, flags) = \
            unpack(data, offset)
        length = flags & 0xFFF
        if flags & 0x7000 or length == 0xFFF:  # a stage, an extended entry, a very long name
            return None
        path = data[offset + 62:offset + 62 + length].decode("utf-8", "surrogateescape")
        # times as whole nanoseconds, to compare with lstat's st_mtime_ns/st_ctime_ns directly
        entries.append((path, sha, mode, size, mtime_s * NS + mtime_ns, ctime_s * NS + ctime_ns, ino))
        offset += (62 + length + 8) // 8 * 8
    if offset > end:
        return None
    tree = None
    while offset + 8 <= len(data) - 20:
        signature, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "big")
        ext = data[offset + 8:offset + 8 + size]
        if not b"A" <= signature[:1] <= b"Z":
            return None  # a required extension: the plain path says why it cannot read it
        nl = ext.find(b"\n")
        if signature == b"TREE" and ext.startswith(b"\0") and nl > 0:
            covered = ext[1:nl].partition(b" ")[0]
            if covered == str(count).encode() and len(ext) >= nl + 21:
                tree = ext[nl + 1:nl + 21].hex()
        offset += 8 + size
    return entries, tree


def compare(root: str, entries: list[tuple], index_mtime_ns: int) -> dict[str, list] | None:
    """The unstaged lists (as ``commands/status.py`` makes them), or None if a refresh is due."""
    modified, deleted, typechanged = [], [], []
    lstat = os.lstat
    for path, oid, mode, size, mtime, ctime, ino in entries:
        try:
            st = lstat(root + path)
        except (FileNotFoundError, NotADirectoryError):
            deleted.append(path)
            continue
        # The index keeps 32-bit seconds: a time past 2106 never matches here, so such a file
        # is hashed below and, unchanged, handed to the plain path (slower, still right).
        same = (st.st_mtime_ns == mtime and st.st_size & M32 == size and st.st_ctime_ns == ctime
                and st.st_ino & M32 == ino and git_mode(st.st_mode) == mode)
        if same and mtime < index_mtime_ns:  # not racily clean: trusted without reading it
            continue
        if stat.S_ISDIR(st.st_mode):
            deleted.append(path)
            continue
        is_link = stat.S_ISLNK(st.st_mode)
        if git_mode(st.st_mode) != mode or (size != st.st_size and not is_link):
            modified.append(path)
            if (mode == 0o120000) != is_link:
                typechanged.append(path)
            continue
        if is_link:
            data = os.fsencode(os.readlink(root + path))
        else:
            with open(root + path, "rb") as f:
                data = f.read()
        if sha1(b"blob %d\0" % len(data) + data).digest() != oid:
            modified.append(path)
        elif not same:
            return None  # unchanged, with new stat data: the plain path writes it back
    unstaged = [("T" if p in typechanged else "M", p) for p in modified]
    return {"unstaged": unstaged + [("D", p) for p in deleted]}


def untracked(root: str, git_dir: str, tracked: list[str]) -> list[str]:
    """What ``workdir.untracked`` answers, by set difference per directory listing."""
    files_in: dict[str, set[str]] = {}  # directory -> names of the tracked files directly in it
    dirs_in: dict[str, set[str]] = {}  # directory -> its subdirectories holding tracked files
    for path in tracked:
        directory, _, name = path.rpartition("/")
        files_in.setdefault(directory, set()).add(name)
    for directory in list(files_in):
        while directory:
            parent, _, name = directory.rpartition("/")
            names = dirs_in.setdefault(parent, set())
            if name in names:
                break  # the rest of the way up was added by a sibling
            names.add(name)
            directory = parent
    out: list[str] = []
    rules = Rules(root, git_dir)

    def walk(directory: str, patterns: list) -> None:
        prefix = directory + "/" if directory else ""
        with os.scandir(root + directory) as it:
            listing = {item.name: item for item in it}
        listing.pop(".git", None)
        if not directory or ".gitignore" in listing:
            patterns = rules.extend(patterns, directory)
        files = files_in.get(directory, set())
        now_dirs = [n for n in files & listing.keys() if listing[n].is_dir(follow_symlinks=False)]
        for name in (listing.keys() - files) | set(now_dirs):
            item, path = listing[name], prefix + name
            is_dir = item.is_dir(follow_symlinks=False)
            if patterns and rules.ignored(patterns, path, is_dir):
                continue
            if not is_dir:
                out.append(path)
            elif name in dirs_in.get(directory, ()):
                walk(path, patterns)
            elif os.path.lexists(os.path.join(item.path, ".git")):
                continue  # a nested repository, left alone as the plain path does
            elif holds_a_file(path, patterns):
                out.append(path + "/")

    def holds_a_file(directory: str, patterns: list) -> bool:
        """Is there a non-ignored file under ``directory`` (nested repositories skipped)?"""
        if os.path.exists(os.path.join(root + directory, ".gitignore")):
            patterns = rules.extend(patterns, directory)
        with os.scandir(root + directory) as it:
            items = sorted(it, key=lambda d: d.name)
        for item in items:
            path = directory + "/" + item.name
            is_dir = item.is_dir(follow_symlinks=False)
            if item.name == ".git" or (patterns and rules.ignored(patterns, path, is_dir)):
                continue
            if not is_dir:
                return True
            if not os.path.lexists(os.path.join(item.path, ".git")) and holds_a_file(path, patterns):
                return True
        return False

    walk("", [])
    return out


class Rules:
    """Ignore rules, loaded through ``ignore.py`` only when there is a rule to load."""

    def __init__(self, root: str, git_dir: str) -> None:
        self.root, self.git_dir = root, git_dir

    def extend(self, patterns: list, directory: str) -> list:
        texts = []
        if not directory:
            texts.append((read_text(os.path.join(self.git_dir, "info", "exclude")) or "", ""))
        gitignore = os.path.join(self.root + directory, ".gitignore")
        if os.path.isfile(gitignore):
            with open(gitignore, encoding="utf-8", errors="replace") as f:
                texts.append((f.read(), directory))
        for text, where in texts:
            if any(line.strip() and not line.startswith("#") for line in text.splitlines()):
                from .ignore import parse_patterns  # only now: it costs an import of dataclasses
                patterns = patterns + parse_patterns(text, where)
        return patterns

    @staticmethod
    def ignored(patterns: list, path: str, is_dir: bool) -> bool:
        from .ignore import is_ignored
        return is_ignored(patterns, path, is_dir)


def collect(start: str = ".") -> tuple[dict[str, list], str | None, str] | None:
    """(what ``status`` reports, HEAD's branch ref or None, HEAD's id), or None: ask the plain path."""
    work_tree = find_work_tree(start)
    if work_tree is None:
        return None
    git_dir = os.path.join(work_tree, ".git")
    head = head_commit(git_dir)
    if head is None:
        return None
    head_tree = commit_tree(git_dir, head[1])
    index_path = os.path.join(git_dir, "index")
    try:
        index_mtime = os.stat(index_path).st_mtime_ns
    except FileNotFoundError:
        return None
    index = read_index(index_path)
    if head_tree is None or index is None or index[1] != head_tree:
        return None  # unknown, or something is staged: the plain path compares the trees
    entries = index[0]
    work = compare(work_tree + "/", entries, index_mtime)
    if work is None:
        return None
    paths = sorted(untracked(work_tree + "/", git_dir, [e[0] for e in entries]), key=report.path_key)
    state = {"staged": [], "unstaged": work["unstaged"], "unmerged": [], "untracked": paths}
    return state, head[0], head[1]


def run(args) -> int:
    found = collect()
    if found is None:
        from .commands import status  # the lesson: every case the shortcuts above do not cover
        return status.run(args)
    return show(found, args.short)


def show(found: tuple[dict[str, list], str | None, str], short: bool) -> int:
    """Print what :func:`collect` found, in the porcelain (``short``) or the long format."""
    state, ref, oid = found
    if short:
        for line in report.porcelain_lines(state):
            print(line)
        return 0
    merging = os.path.exists(os.path.join(find_work_tree(".") or ".", ".git", "MERGE_HEAD"))
    report.print_long(ref.removeprefix("refs/heads/") if ref else None, oid, merging, state)
    return 0


SHORT = {"-s", "--short", "--porcelain"}


def quick(argv: list[str]) -> int | None:
    """Run ``status`` without building the command-line parser, when ``argv`` is a bare
    ``status`` with at most one short-format option and the shortcuts apply; None otherwise
    (``cli.py`` then does everything, errors included)."""
    if not argv or argv[0] != "status" or len(argv) > 2 or (len(argv) == 2 and argv[1] not in SHORT):
        return None
    found = collect()
    if found is None:
        return None  # not the common case: cli.py and the plain path handle it, errors included
    try:
        code = show(found, short=len(argv) == 2)
        sys.stdout.flush()
    except BrokenPipeError:  # as cli.py: a reader that stopped early is not an error
        code = 0
    return code


def register(sub) -> None:
    p = sub.add_parser("status", help="show staged, unstaged and untracked changes")
    p.add_argument("-s", "--short", "--porcelain", dest="short", action="store_true")
    p.set_defaults(func=run)
