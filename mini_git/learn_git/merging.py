"""Three-way merge of whole trees, and writing the result (with conflicts) to index and files.

Reading order: after ``merge3.py`` and ``switching.py``; used by ``merge``,
``revert``, ``rebase`` and ``stash pop``.  For each path, compare base, ours and
theirs: if only one side changed it, take that side; if both made the same
change, take it; if both changed a text file, merge the lines
(``merge3.merge_lines``); anything else is a conflict.

A conflicted path is recorded the way git records it, so ``git status`` and
``git add`` understand our half-finished merges: the index holds up to three
*stages* of it (1 = base, 2 = ours, 3 = theirs) instead of one entry, and the
file in the work tree holds the conflict markers.  Not handled: renames,
directory/file conflicts, recursive merge bases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .index import IndexEntry
from .merge3 import merge_lines
from .switching import check_clean, switch_trees
from .trees import FlatMap
from .unified_diff import is_binary
from .workdir import write_file

Entry = tuple[int, str] | None


@dataclass
class TreeMerge:
    merged: FlatMap = field(default_factory=dict)  # the clean result (conflicted paths hold "ours")
    conflicts: dict[str, tuple[Entry, Entry, Entry]] = field(default_factory=dict)
    conflict_files: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # what the work tree gets


def merge_trees(odb, base: FlatMap, ours: FlatMap, theirs: FlatMap, ours_label: str,
                theirs_label: str) -> TreeMerge:
    out = TreeMerge()
    for path in sorted(base.keys() | ours.keys() | theirs.keys()):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or b == t:
            pick = o
        elif b == o:
            pick = t
        else:
            pick = _merge_file(odb, path, b, o, t, ours_label, theirs_label, out)
        if pick is not None:
            out.merged[path] = pick
    return out


def _merge_file(odb, path: str, b: Entry, o: Entry, t: Entry, ours_label: str, theirs_label: str,
                out: TreeMerge) -> Entry:
    links = any(e is not None and e[0] == 0o120000 for e in (b, o, t))
    if o is not None and t is not None and not links:
        mode = t[0] if (b and o[0] == b[0]) else o[0]
        base_data = odb.read_kind(b[1], "blob") if b else b""
        ours_data, theirs_data = odb.read_kind(o[1], "blob"), odb.read_kind(t[1], "blob")
        if not (is_binary(ours_data) or is_binary(theirs_data) or is_binary(base_data)):
            result = merge_lines(base_data, ours_data, theirs_data, ours_label, theirs_label)
            if not result.conflicts and (b is None or o[0] == b[0] or t[0] == b[0]):
                return mode, odb.write("blob", result.data)
            out.conflicts[path] = (b, o, t)
            out.conflict_files[path] = (mode, result.data)
            return o
    # modify/delete, add/add of binaries or symlinks: keep whichever side still has the file.
    out.conflicts[path] = (b, o, t)
    keep = o or t
    if keep is not None:
        out.conflict_files[path] = (keep[0], odb.read_kind(keep[1], "blob"))
    return o


def apply_merge(repo, entries: list[IndexEntry], ours: FlatMap, result: TreeMerge) -> list[IndexEntry]:
    """Write the merge into the work tree and index; refuses if local changes are in the way."""
    work_tree = repo.require_work_tree()
    by_path = {e.path: e for e in entries if e.stage == 0}
    # Conflicted paths are "changed" too: their files get markers, so they must be clean now.
    touched = dict(result.merged)
    for path in result.conflicts:
        touched[path] = (0, "conflict")
    check_clean(work_tree, by_path, ours, touched, "merge")
    new_entries = switch_trees(repo, entries, ours, result.merged, force=True)
    new_entries = [e for e in new_entries if e.path not in result.conflicts]
    for path, sides in result.conflicts.items():
        for stage, side in enumerate(sides, start=1):
            if side is not None:
                new_entries.append(IndexEntry(path, side[1], side[0], stage=stage))
        if path in result.conflict_files:
            mode, data = result.conflict_files[path]
            write_file(work_tree, path, data, mode)
    return new_entries
