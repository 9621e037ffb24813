"""Between flat path lists and nested tree objects: what ``commit`` and ``checkout`` need.

Reading order: after ``index.py``.  The index is flat (``src/app.py`` ->
blob); the object store is nested (a tree per directory).  ``write_tree`` builds
the trees bottom-up from a flat map, exactly as ``git write-tree`` would, so the
ids agree; ``flatten_tree`` goes the other way and refuses paths that are not
safe to check out.  A *flat map* is ``{path: (mode, oid)}`` with int modes.
"""

from __future__ import annotations

from .errors import CorruptObject
from .index import IndexEntry
from .objects import TreeEntry, parse_tree, serialize_tree
from .paths import check_tree_path

FlatMap = dict[str, tuple[int, str]]


def flatten_tree(odb, tree_oid: str | None, prefix: str = "") -> FlatMap:
    """Every non-tree entry under ``tree_oid`` by its full path (empty for None)."""
    out: FlatMap = {}
    if tree_oid is None:
        return out
    entries = parse_tree(odb.read_kind(tree_oid, "tree"))
    if len({e.name for e in entries}) != len(entries):
        # e.g. "dir" as a symlink *and* as a directory: checking out both could write through the link
        raise CorruptObject(f"tree {tree_oid} has duplicate entries (git fsck: duplicateEntries)")
    for e in entries:
        path = prefix + e.name.decode("utf-8", "surrogateescape")
        check_tree_path(path)
        if e.is_tree:
            out.update(flatten_tree(odb, e.oid, path + "/"))
        else:
            out[path] = (int(e.mode, 8), e.oid)
    return out


def write_tree(odb, flat: FlatMap) -> str:
    """Store the trees for ``flat`` and return the top tree's id."""
    children: dict[str, dict] = {}
    for path, (mode, oid) in flat.items():
        node = children
        *dirs, name = check_tree_path(path).split("/")
        for d in dirs:
            sub = node.setdefault(d, {})
            if not isinstance(sub, dict):
                raise CorruptObject(f"'{path}' needs '{d}' to be a directory, but it is a file")
            node = sub
        if name in node:
            raise CorruptObject(f"'{path}' is both a file and a directory")
        node[name] = (mode, oid)
    return _write_node(odb, children)


def _write_node(odb, node: dict) -> str:
    entries = []
    for name, value in node.items():
        raw = name.encode("utf-8", "surrogateescape")
        if isinstance(value, dict):
            entries.append(TreeEntry("40000", raw, _write_node(odb, value)))
        else:
            entries.append(TreeEntry(format(value[0], "o"), raw, value[1]))
    return odb.write("tree", serialize_tree(entries))


def index_map(entries: list[IndexEntry]) -> FlatMap:
    """The index as a flat map (stage 0 only: conflicted paths are not committable)."""
    return {e.path: (e.mode, e.oid) for e in entries if e.stage == 0}


def conflicted_paths(entries: list[IndexEntry]) -> list[str]:
    return sorted({e.path for e in entries if e.stage})
