"""Moving the work tree and index from one tree to another, without losing local work.

Reading order: before ``commands/checkout.py``, ``merge.py`` and ``reset.py``.
This is git's "two-tree merge" (``read-tree -m -u <old> <new>``) in small: only
paths that differ between the old and the new tree are touched, and each of them
must be *clean* first -- its index entry equal to the old tree's, its file equal
to the index -- unless ``force`` is set (``reset --hard``).  Local changes to
other paths simply stay.  An untracked file where the new tree has one is also
refused, as git refuses to overwrite it.  Deletions run before additions, so a
file can turn into a directory (or back) in one switch.
"""

from __future__ import annotations

from pathlib import Path

from .errors import LocalChanges
from .index import IndexEntry, entry_from_stat, stat_matches
from .tree_diff import diff_maps
from .trees import FlatMap
from .workdir import full_path, hash_file, remove_file, write_file


def file_is_clean(work_tree: Path, entry: IndexEntry) -> bool:
    """Does the file on disk still hold what the index says (stat shortcut, then content)?"""
    try:
        st = full_path(work_tree, entry.path).lstat()
    except FileNotFoundError:
        return False
    if stat_matches(entry, st):
        return True
    try:
        return hash_file(work_tree, entry.path)[0] == entry.oid
    except (IsADirectoryError, FileNotFoundError):
        return False


def untracked_in_the_way(work_tree: Path, path: str, want: tuple[int, str]) -> bool:
    target = work_tree / path
    if not (target.is_symlink() or target.exists()):
        return False
    if target.is_dir() and not target.is_symlink():
        return any(target.iterdir())
    return hash_file(work_tree, path)[0] != want[1]


# git's words for each operation that can refuse: (what overwrites, what the user was about to do)
ACTIONS = {"checkout": ("checkout", "switch branches"), "merge": ("merge", "merge")}


def check_clean(work_tree: Path, entries: dict[str, IndexEntry], old: FlatMap, new: FlatMap,
                action: str = "checkout") -> None:
    """Raise :class:`LocalChanges` naming every path the switch would clobber (in git's words)."""
    dirty, untracked = [], []
    for ch in diff_maps(old, new):
        entry = entries.get(ch.path)
        staged = (entry.mode, entry.oid) if entry else None
        if staged not in (ch.old, ch.new):
            dirty.append(ch.path)
        elif entry is not None and not file_is_clean(work_tree, entry):
            dirty.append(ch.path)
        elif entry is None and ch.new is not None and untracked_in_the_way(work_tree, ch.path, ch.new):
            untracked.append(ch.path)
    by, before = ACTIONS[action]
    if dirty:
        raise LocalChanges(f"Your local changes to the following files would be overwritten by {by}:\n\t"
                           + "\n\t".join(dirty) + f"\nPlease commit your changes or stash them before you "
                           f"{before}.\nAborting")
    if untracked:
        raise LocalChanges(f"The following untracked working tree files would be overwritten by {by}:\n\t"
                           + "\n\t".join(untracked) + f"\nPlease move or remove them before you {before}."
                           "\nAborting")


def switch_trees(repo, entries: list[IndexEntry], old: FlatMap, new: FlatMap,
                 force: bool = False, action: str = "checkout") -> list[IndexEntry]:
    """Update files and index from ``old`` to ``new``; returns the new index entries."""
    work_tree = repo.require_work_tree()
    by_path = {e.path: e for e in entries if e.stage == 0}
    if not force:
        check_clean(work_tree, by_path, old, new, action)
    changes = diff_maps(old, new)
    for ch in changes:
        if ch.new is None:
            remove_file(work_tree, ch.path)
            by_path.pop(ch.path, None)
    for ch in changes:
        if ch.new is not None:
            mode, oid = ch.new
            st = write_file(work_tree, ch.path, repo.odb.read_kind(oid, "blob"), mode)
            by_path[ch.path] = entry_from_stat(ch.path, oid, st)
            by_path[ch.path].mode = mode
    # Conflict stages of touched paths are gone; others are kept as they were.
    touched = {ch.path for ch in changes}
    kept = [e for e in entries if e.stage and e.path not in touched]
    return list(by_path.values()) + kept


def restore_paths(repo, flat: FlatMap, paths: list[str]) -> list[tuple[str, object]]:
    """Write ``paths`` from ``flat`` into the work tree (``checkout -- <paths>``); returns stats."""
    work_tree = repo.require_work_tree()
    written = []
    for path in paths:
        mode, oid = flat[path]
        written.append((path, write_file(work_tree, path, repo.odb.read_kind(oid, "blob"), mode)))
    return written
