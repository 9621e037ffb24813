"""``diff``: what changed, in git's unified format.

Three comparisons, all built from the same two pieces -- ``tree_diff.diff_maps``
to find the paths, ``unified_diff.unified`` for each file's hunks:

- ``diff``: index -> work tree (what ``add`` would stage);
- ``diff --cached [<commit>]``: HEAD (or the commit) -> index (what ``commit`` would record);
- ``diff <a> <b>``: one commit's tree -> another's.

Each file starts with ``diff --git a/<path> b/<path>``, then mode lines for new,
deleted or re-moded files, ``index <old>..<new> [<mode>]`` with abbreviated blob
ids, and ``---``/``+++`` before the hunks.  A file with a NUL byte prints
"Binary files ... differ" instead of hunks, as git does.
"""

from __future__ import annotations

import sys

from ..index import mode_from_stat
from ..paths import quote_path as quote
from ..porcelain import head_oid, load_index, tree_map_of_commit
from ..repo import Repository
from ..revision import resolve_commit
from ..tree_diff import ADDED, DELETED, TYPE_CHANGED, Change, diff_maps
from ..trees import FlatMap, index_map
from ..unified_diff import is_binary, unified
from ..workdir import compare_with_index, hash_file

NULL = "0" * 40


def register(sub) -> None:
    p = sub.add_parser("diff", help="show changes as a unified diff")
    p.add_argument("--cached", "--staged", dest="cached", action="store_true")
    p.add_argument("commits", nargs="*")
    p.set_defaults(func=run)


def file_header(change: Change) -> list[bytes]:
    a_path = quote("a/" + change.path).encode("utf-8", "surrogateescape")
    b_path = quote("b/" + change.path).encode("utf-8", "surrogateescape")
    old_mode, old_oid = change.old or (0, NULL)
    new_mode, new_oid = change.new or (0, NULL)
    lines = [b"diff --git " + a_path + b" " + b_path]
    if change.status == ADDED:
        lines.append(f"new file mode {new_mode:o}".encode())
    elif change.status == DELETED:
        lines.append(f"deleted file mode {old_mode:o}".encode())
    elif old_mode != new_mode:
        lines += [f"old mode {old_mode:o}".encode(), f"new mode {new_mode:o}".encode()]
    if old_oid != new_oid:
        same_mode = f" {old_mode:o}" if old_mode == new_mode else ""
        lines.append(f"index {old_oid[:7]}..{new_oid[:7]}{same_mode}".encode())
    return lines


def split_type_changes(changes: list[Change]) -> list[Change]:
    """git shows a file that became a symlink (or back) as a deletion followed by an addition."""
    out = []
    for ch in changes:
        if ch.status == TYPE_CHANGED:
            out += [Change(DELETED, ch.path, ch.old, None), Change(ADDED, ch.path, None, ch.new)]
        else:
            out.append(ch)
    return out


def render(changes: list[Change], read_blob) -> bytes:
    """The whole diff; ``read_blob(oid, path)`` fetches content (the work tree's is not in the odb)."""
    out = bytearray()
    for ch in split_type_changes(changes):
        lines = file_header(ch)
        old = read_blob(ch.old[1], ch.path) if ch.old else b""
        new = read_blob(ch.new[1], ch.path) if ch.new else b""
        if ch.old and ch.new and ch.old[1] == ch.new[1]:
            pass  # a mode change alone: no hunks
        elif is_binary(old) or is_binary(new):
            a = b"a/" + ch.path.encode("utf-8", "surrogateescape") if ch.old else b"/dev/null"
            b = b"b/" + ch.path.encode("utf-8", "surrogateescape") if ch.new else b"/dev/null"
            lines.append(b"Binary files " + a + b" and " + b + b" differ")
        elif old or new:
            a_name = quote("a/" + ch.path).encode("utf-8", "surrogateescape") if ch.old else b"/dev/null"
            b_name = quote("b/" + ch.path).encode("utf-8", "surrogateescape") if ch.new else b"/dev/null"
            # git ends a name containing a space with a tab, so a patch tool can find its end.
            a_name += b"\t" if b" " in a_name else b""
            b_name += b"\t" if b" " in b_name else b""
            lines += [b"--- " + a_name, b"+++ " + b_name]
            out += b"\n".join(lines) + b"\n" + unified(old, new)
            continue
        out += b"\n".join(lines) + b"\n"
    return bytes(out)


def worktree_map(repo) -> tuple[FlatMap, dict[str, bytes]]:
    """The index as the work tree has it now (only changed files are hashed)."""
    entries = load_index(repo)
    index_mtime = repo.index_path.stat().st_mtime_ns if repo.index_path.exists() else 0
    state = compare_with_index(repo.work_tree, entries, index_mtime)
    flat = index_map(entries)
    contents: dict[str, bytes] = {}
    for path in state.deleted:
        flat.pop(path, None)
    for path in state.modified:
        oid, data, st = hash_file(repo.work_tree, path)
        flat[path] = (mode_from_stat(st), oid)
        contents[oid] = data
    return flat, contents


def run(args) -> int:
    repo = Repository.discover()
    extra: dict[str, bytes] = {}
    if args.cached:
        base = resolve_commit(repo, args.commits[0]) if args.commits else head_oid(repo)
        old, new = tree_map_of_commit(repo, base), index_map(load_index(repo))
    elif len(args.commits) == 2:
        old, new = (tree_map_of_commit(repo, resolve_commit(repo, c)) for c in args.commits)
    elif len(args.commits) == 1:
        old = tree_map_of_commit(repo, resolve_commit(repo, args.commits[0]))
        new, extra = worktree_map(repo)
    else:
        old = index_map(load_index(repo))
        new, extra = worktree_map(repo)

    def read_blob(oid: str, path: str) -> bytes:
        if oid in extra:
            return extra[oid]
        return repo.odb.read_kind(oid, "blob")

    sys.stdout.buffer.write(render(diff_maps(old, new), read_blob))
    return 0
