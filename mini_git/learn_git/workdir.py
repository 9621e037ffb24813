"""The work tree: reading, writing and scanning checked-out files (file-system layer).

Reading order: after ``trees.py``.  Everything that touches files outside
``.git`` goes through here, so the path checks live in one place: a path is
checked with :func:`paths.check_tree_path`, and no parent directory may be a
symlink (a malicious tree could otherwise plant ``dir -> /etc`` and then write
``dir/passwd``).

:func:`compare_with_index` is ``status``'s second question: a file whose stat
data still matches its index entry is trusted without being read; only the
others are hashed.  Entries whose mtime is not older than the index file itself are
"racily clean" (modified within the same timestamp tick as the index was
written) and are always hashed, as git does.  :func:`untracked` is its other
half: what is on disk but not in the index.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UnsafePath
from .ignore import Pattern, is_ignored, parse_patterns
from .index import IndexEntry, entry_from_stat, mode_from_stat, stat_matches
from .objects import hash_object
from .paths import check_tree_path


def full_path(work_tree: Path, path: str, checked: set[str] | None = None) -> Path:
    """The file for ``path``, after checking it cannot leave the work tree.

    ``checked``: directories already found not to be symlinks, kept by a caller that asks
    for many paths (``add``), so each directory is looked at once rather than once per file.
    """
    check_tree_path(path)
    directory = path.rpartition("/")[0]
    while directory and (checked is None or directory not in checked):
        if os.path.islink(os.path.join(work_tree, directory)):
            raise UnsafePath(f"refusing to go through symlink '{directory}' for '{path}'")
        if checked is not None:
            checked.add(directory)  # and, as the loop goes on, every directory above it
        directory = directory.rpartition("/")[0]
    return work_tree / path


def read_content(target: Path, st: os.stat_result) -> bytes:
    """A file's bytes, or a symlink's target as bytes (that is what git stores for a link)."""
    if stat.S_ISLNK(st.st_mode):
        return os.fsencode(os.readlink(target))
    with open(target, "rb") as f:
        return f.read()


def hash_file(work_tree: Path, path: str) -> tuple[str, bytes, os.stat_result]:
    target = full_path(work_tree, path)
    st = target.lstat()
    data = read_content(target, st)
    return hash_object("blob", data), data, st


def write_file(work_tree: Path, path: str, data: bytes, mode: int) -> os.stat_result:
    """Create or replace one file (or symlink) and return its stat data for the index."""
    target = full_path(work_tree, path)
    # A file (or link) where a directory must go is replaced, as git does on checkout.
    parent = target.parent
    missing = []
    while parent != work_tree and not parent.is_dir():
        missing.append(parent)
        parent = parent.parent
    for p in reversed(missing):
        if p.is_symlink() or p.exists():
            p.unlink()
        p.mkdir()
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        remove_tree(target)
    if mode == 0o120000:
        os.symlink(os.fsdecode(data), target)
    else:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if mode == 0o100755 else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return target.lstat()


def remove_tree(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)
        else:
            child.unlink()
    directory.rmdir()


def remove_file(work_tree: Path, path: str) -> None:
    """Delete a file and any directories it leaves empty."""
    target = full_path(work_tree, path)
    if target.is_symlink() or target.exists():
        target.unlink()
    parent = target.parent
    while parent != work_tree:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def load_ignores(git_dir: Path, work_tree: Path, directory: str = "") -> list[Pattern]:
    patterns: list[Pattern] = []
    if not directory:
        exclude = git_dir / "info" / "exclude"
        if exclude.is_file():
            patterns += parse_patterns(exclude.read_text(errors="replace"))
    ignore = os.path.join(work_tree, directory, ".gitignore")
    if os.path.isfile(ignore):
        with open(ignore, encoding="utf-8", errors="replace") as f:
            patterns += parse_patterns(f.read(), directory)
    return patterns


def scan(work_tree: Path, git_dir: Path, directory: str = "", patterns: list[Pattern] | None = None,
         with_stat: bool = True):
    """(path, stat) for every file under ``directory`` that is not ignored; skips ``.git``.

    ``with_stat=False`` yields (path, None): the directory listing already says which names are
    directories, so listing untracked files needs no ``lstat`` per file.

    Plain strings and ``os.scandir`` rather than ``pathlib``: ``add .`` and ``status``
    (through :func:`untracked`) run this over the whole work tree.
    """
    patterns = (patterns or []) + load_ignores(git_dir, work_tree, directory)
    base = os.path.join(work_tree, directory) if directory else str(work_tree)
    prefix = directory + "/" if directory else ""
    with os.scandir(base) as it:
        items = sorted(it, key=lambda d: d.name)
    for item in items:
        if item.name == ".git":
            continue
        path = prefix + item.name
        is_dir = item.is_dir(follow_symlinks=False)
        if patterns and is_ignored(patterns, path, is_dir):
            continue
        if is_dir:
            if os.path.lexists(os.path.join(item.path, ".git")):
                continue  # a nested repository: git would show it as a gitlink; we leave it alone
            yield from scan(work_tree, git_dir, path, patterns, with_stat)
        else:
            yield path, item.stat(follow_symlinks=False) if with_stat else None


def untracked(work_tree: Path, git_dir: Path, tracked: list[str]) -> list[str]:
    """Untracked, not ignored files, collapsed to ``dir/`` where a directory holds no tracked file.

    ``status``'s third question, answered plainly: every file :func:`scan` finds (ignored ones
    and nested repositories left out) that the index does not list.  git shows an untracked
    file inside a directory that holds no tracked file at all as that directory, once
    (``?? dir/``): the outermost such directory on the file's path is shown instead.  A tracked
    file replaced by a directory makes that directory untracked (git 2.39 leaves it out unless
    ``-uall``; mini_git has always shown it).  The result is unordered (``status`` sorts it).
    """
    tracked_files = set(tracked)
    tracked_dirs = set()  # every directory on the path of a tracked file
    for path in tracked:
        directory = path.rpartition("/")[0]
        while directory and directory not in tracked_dirs:
            tracked_dirs.add(directory)
            directory = directory.rpartition("/")[0]
    out: set[str] = set()
    for path, _ in scan(work_tree, git_dir, with_stat=False):
        if path in tracked_files:
            continue
        parts = path.split("/")
        shown = path
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in tracked_dirs:
                shown = directory + "/"  # the outermost directory without a tracked file
                break
        out.add(shown)
    return list(out)


@dataclass
class WorktreeStatus:
    """What :func:`compare_with_index` found."""

    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    typechanged: list[str] = field(default_factory=list)  # file <-> symlink (also in ``modified``)
    refreshed: bool = False  # some entries got fresh stat data: worth writing the index back


def compare_with_index(work_tree: Path, entries: list[IndexEntry], index_mtime_ns: int) -> WorktreeStatus:
    """Which staged files differ on disk; refreshes the stat data of unchanged ones in place.

    One ``lstat`` per tracked file.  A file whose stat data matches its entry is trusted
    without being read -- unless it is "racily clean": its mtime is not older than the index
    file, so it may have changed again within the same tick after it was staged, and its stat
    data proves nothing.  Every other file is compared by its mode, its size, then its hash.
    The index's own paths are used as they are (we only read here): a path through a
    symlinked directory would at worst be reported as modified.
    """
    result = WorktreeStatus()
    index_time = divmod(index_mtime_ns, 1_000_000_000)
    for i, entry in enumerate(entries):
        if entry.stage:
            continue  # a conflict: status reports it from the stages
        target = work_tree / entry.path
        try:
            st = target.lstat()
        except (FileNotFoundError, NotADirectoryError):
            result.deleted.append(entry.path)
            continue
        racily_clean = (entry.mtime_s, entry.mtime_ns) >= index_time
        if stat_matches(entry, st) and not racily_clean:
            continue
        if stat.S_ISDIR(st.st_mode):
            result.deleted.append(entry.path)
            continue
        is_link = stat.S_ISLNK(st.st_mode)
        if mode_from_stat(st) != entry.mode or (entry.size != st.st_size and not is_link):
            result.modified.append(entry.path)
            if (entry.mode == 0o120000) != is_link:
                result.typechanged.append(entry.path)
            continue
        if hash_object("blob", read_content(target, st)) != entry.oid:
            result.modified.append(entry.path)
        elif not stat_matches(entry, st):
            entries[i] = entry_from_stat(entry.path, entry.oid, st)
            result.refreshed = True
    return result
