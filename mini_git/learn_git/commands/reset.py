"""``reset``: move the current branch to another commit, and optionally the index and files.

- ``--soft``: only the branch moves (the index still holds what you staged);
- ``--mixed`` (default): the index is reset to the commit's tree too -- entries
  that did not change keep their stat data, so ``status`` stays fast;
- ``--hard``: the work tree as well; local changes to tracked files are lost.

The old position is saved in ``ORIG_HEAD``, as git does, so ``reset ORIG_HEAD``
undoes a reset.  ``reset [<commit>] -- <paths>`` only copies paths back into the index.
"""

from __future__ import annotations

from ..index import IndexEntry
from ..porcelain import head_oid, load_index, move_head, save_index, tree_map_of_commit
from ..repo import Repository
from ..revision import resolve_commit
from ..switching import switch_trees
from ..trees import FlatMap, index_map
from ..workdir import compare_with_index


def register(sub) -> None:
    p = sub.add_parser("reset", help="move HEAD, and optionally reset the index and work tree")
    g = p.add_mutually_exclusive_group()
    for mode in ("soft", "mixed", "hard"):
        g.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode)
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("commit", nargs="?", default="HEAD")
    p.add_argument("paths", nargs="*")
    p.set_defaults(func=run, mode=None)


def index_from_tree(old_entries: list[IndexEntry], flat: FlatMap) -> list[IndexEntry]:
    """The index for ``flat``, reusing stat data of entries that are unchanged."""
    keep = {e.path: e for e in old_entries if e.stage == 0}
    out = []
    for path, (mode, oid) in flat.items():
        e = keep.get(path)
        out.append(e if e is not None and (e.mode, e.oid) == (mode, oid) else IndexEntry(path, oid, mode))
    return out


def reset(repo, spec: str, mode: str = "mixed") -> str:
    target = resolve_commit(repo, spec)
    old = head_oid(repo)
    entries = load_index(repo)
    flat = tree_map_of_commit(repo, target)
    if mode == "hard":
        # Start from what is on disk, so modified files are rewritten too.
        work = compare_with_index(repo.require_work_tree(), entries, 1 << 62)
        on_disk = index_map(entries)
        for path in work.modified + work.deleted:
            on_disk[path] = (0, "dirty")
        for e in entries:
            if e.stage:
                on_disk[e.path] = (0, "conflicted")
        save_index(repo, switch_trees(repo, [e for e in entries if e.stage == 0], on_disk, flat, force=True))
    elif mode == "mixed":
        save_index(repo, index_from_tree(entries, flat))
    if mode != "soft":  # a reset ends a merge, revert or cherry-pick in progress
        for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "REVERT_HEAD", "CHERRY_PICK_HEAD"):
            (repo.git_dir / name).unlink(missing_ok=True)
    if old:
        (repo.git_dir / "ORIG_HEAD").write_text(old + "\n")
    move_head(repo, target, f"reset: moving to {spec}", detach=repo.head().detached)
    return target


def run(args) -> int:
    repo = Repository.discover()
    if args.paths:
        flat = tree_map_of_commit(repo, resolve_commit(repo, args.commit))
        entries = {e.path: e for e in load_index(repo)}
        for raw in args.paths:
            rel = repo.relpath(raw)
            if rel in flat:
                entries[rel] = IndexEntry(rel, flat[rel][1], flat[rel][0])
            else:
                entries.pop(rel, None)
        save_index(repo, list(entries.values()))
        return 0
    target = reset(repo, args.commit, args.mode or "mixed")
    if args.mode == "hard" and not args.quiet:
        from ..history import read_commit
        from ..porcelain import subject
        print(f"HEAD is now at {target[:7]} {subject(read_commit(repo, target).message)}")
    return 0
