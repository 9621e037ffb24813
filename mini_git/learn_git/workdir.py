"""The work tree: reading, writing and scanning checked-out files (file-system layer).

Reading order: after ``trees.py``.  Everything that touches files outside
``.git`` goes through here, so the path checks live in one place: a path is
checked with :func:`paths.check_tree_path`, and no parent directory may be a
symlink (a malicious tree could otherwise plant ``dir -> /etc`` and then write
``dir/passwd``).

:func:`compare_with_index` is ``status``'s fast path: a file whose stat data
still matches its index entry is trusted without being read; only the others
are hashed.  Entries whose mtime is not older than the index file itself are
"racily clean" (modified within the same timestamp tick as the index was
written) and are always hashed, as git does.  :func:`untracked` is its other
half: what is on disk but not in the index.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import UnsafePath
from .ignore import Pattern, is_ignored, parse_patterns
from .index import IndexEntry, entry_from_stat, mode_from_stat, stat_matches
from .objects import hash_object
from .paths import check_tree_path


def full_path(work_tree: Path, path: str, safe_dirs: set[str] | None = None) -> Path:
    """The file for ``path``, after checking it cannot leave the work tree.

    ``safe_dirs`` remembers directories already checked (``status`` asks for thousands of files
    in the same few directories).
    """
    check_tree_path(path)
    directory = path.rpartition("/")[0]
    while directory and (safe_dirs is None or directory not in safe_dirs):
        if os.path.islink(os.path.join(work_tree, directory)):
            raise UnsafePath(f"refusing to go through symlink '{directory}' for '{path}'")
        if safe_dirs is not None:
            safe_dirs.add(directory)
        directory = directory.rpartition("/")[0]
    return work_tree / path


def read_content(target: Path, st: os.stat_result) -> bytes:
    """A file's bytes, or a symlink's target as bytes (that is what git stores for a link)."""
    if stat.S_ISLNK(st.st_mode):
        return os.fsencode(os.readlink(target))
    return target.read_bytes()


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

    Plain strings and ``os.scandir`` rather than ``pathlib``: ``add .`` runs this once per file
    (and ``status`` inside untracked directories).
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

    ``status``'s third question.  A directory listing is compared with the index's names for that
    directory as two sets (one C-level set difference), so a tracked file costs little more here
    than a look at its listing entry's type (usually no system call), and no ignore matching:
    ignore rules only apply to untracked paths.  Only directories that hold tracked files are
    descended into fully; an untracked directory is only searched until its first non-ignored
    file, which is enough to print ``?? dir/``.  The result is unordered (``status`` sorts it).
    """
    files_in: dict[str, set[str]] = {}  # directory -> names of the tracked files directly in it
    dirs_in: dict[str, set[str]] = {}  # directory -> names of its subdirectories holding tracked files
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
    root = str(work_tree)
    out: list[str] = []

    def walk(directory: str, patterns: list[Pattern]) -> None:
        prefix = directory + "/" if directory else ""
        with os.scandir(os.path.join(root, directory)) as it:
            listing = {item.name: item for item in it}
        listing.pop(".git", None)
        if not directory or ".gitignore" in listing:  # the listing says if there is one: no stat
            patterns = patterns + load_ignores(git_dir, work_tree, directory)
        files = files_in.get(directory, set())
        # A tracked file replaced by a directory: the directory is untracked, shown as "name/"
        # (git 2.39 leaves it out unless -uall; mini_git has always shown it).
        now_dirs = [n for n in files & listing.keys() if listing[n].is_dir(follow_symlinks=False)]
        for name in (listing.keys() - files) | set(now_dirs):
            item, path = listing[name], prefix + name
            is_dir = item.is_dir(follow_symlinks=False)
            if patterns and is_ignored(patterns, path, is_dir):
                continue
            if not is_dir:
                out.append(path)
            elif name in dirs_in.get(directory, ()):
                walk(path, patterns)  # holds tracked files: a directory of ours, as git sees it too
            elif os.path.lexists(os.path.join(item.path, ".git")):
                continue  # a nested repository: git would show it as a gitlink; we leave it alone
            elif any(True for _ in scan(work_tree, git_dir, path, patterns, with_stat=False)):
                out.append(path + "/")  # the first file found is enough to show the directory

    walk("", [])
    return out


class WorktreeStatus:
    """What :func:`compare_with_index` found (a plain class: see ``objects.py`` on start-up cost)."""

    def __init__(self) -> None:
        self.modified: list[str] = []
        self.deleted: list[str] = []
        self.typechanged: list[str] = []  # file <-> symlink (also in ``modified``)
        self.refreshed = False  # some entries got fresh stat data: worth writing the index back


def compare_with_index(work_tree: Path, entries: list[IndexEntry], index_mtime_ns: int) -> WorktreeStatus:
    """Which staged files differ on disk; refreshes the stat data of unchanged ones in place."""
    result = WorktreeStatus()
    # One lstat per tracked file is the unavoidable cost (git pays it too); everything else in
    # this loop is kept to a few operations: the path is joined by plain concatenation (no
    # os.path.join or pathlib per file) and the clean case is one call to ``stat_matches``.
    root = str(work_tree) + "/"
    lstat = os.lstat
    # An entry whose mtime is not older than the index file is "racily clean": the file may
    # have changed again within the same tick after it was staged, so its stat data proves nothing.
    racy_from = divmod(index_mtime_ns, 1_000_000_000)
    for i, e in enumerate(entries):
        if e.stage:
            continue
        # Only reading here, so the index's own paths are used as they are (no escape checks):
        # a path through a symlinked directory would at worst be reported as modified.
        try:
            st = lstat(root + e.path)
        except (FileNotFoundError, NotADirectoryError):
            result.deleted.append(e.path)
            continue
        if stat_matches(e, st) and (e.mtime_s, e.mtime_ns) < racy_from:
            continue
        if stat.S_ISDIR(st.st_mode):
            result.deleted.append(e.path)
            continue
        if mode_from_stat(st) != e.mode or (e.size != st.st_size and not stat.S_ISLNK(st.st_mode)):
            result.modified.append(e.path)
            if (e.mode == 0o120000) != stat.S_ISLNK(st.st_mode):
                result.typechanged.append(e.path)
            continue
        if hash_object("blob", read_content(Path(root + e.path), st)) != e.oid:
            result.modified.append(e.path)
        elif not stat_matches(e, st):
            entries[i] = entry_from_stat(e.path, e.oid, st)
            result.refreshed = True
    return result
