"""Comparing two snapshots path by path (pure): what ``status``, ``diff`` and ``checkout`` ask.

Reading order: after ``trees.py``.  Both sides are flat maps ``{path: (mode,
oid)}`` (from a tree, the index or the work tree), so comparing them is a
sorted walk over the union of their paths.  Renames are not detected: a
renamed file is a deletion plus an addition (git shows it that way too with
``--no-renames``).
"""

from __future__ import annotations

from dataclasses import dataclass

FlatMap = dict[str, tuple[int, str]]
ADDED, DELETED, MODIFIED, TYPE_CHANGED = "A", "D", "M", "T"


@dataclass(frozen=True)
class Change:
    """``status`` A, D, M or T (file <-> symlink); ``old``/``new``: (mode, oid) or None."""

    status: str
    path: str
    old: tuple[int, str] | None
    new: tuple[int, str] | None


def path_key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def diff_maps(old: FlatMap, new: FlatMap) -> list[Change]:
    """Every path whose mode or content differs, sorted by path as git sorts them (bytewise)."""
    changes = []
    for path in sorted(old.keys() | new.keys(), key=path_key):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        if a is None:
            changes.append(Change(ADDED, path, None, b))
        elif b is None:
            changes.append(Change(DELETED, path, a, None))
        else:
            kind_changed = (a[0] == 0o120000) != (b[0] == 0o120000)
            changes.append(Change(TYPE_CHANGED if kind_changed else MODIFIED, path, a, b))
    return changes
