"""``status``: three snapshots compared -- HEAD's tree, the index, the work tree.

HEAD vs index is "Changes to be committed"; index vs work tree is "Changes not
staged"; files in neither are "Untracked".  The work-tree side is the costly
one, so it uses the index's stat data (``workdir.compare_with_index``): only
files whose size/mtime/ctime/inode changed are read and hashed.  When that
re-hashing finds a file unchanged, the fresh stat data is written back to the
index so the next ``status`` does not hash it again (git does the same).
The HEAD side is usually free: the index remembers the tree its entries made
at the last ``commit`` (its cache tree), and if that is HEAD's tree nothing is
staged.  Untracked files come from one directory listing per directory,
compared with the index's names as sets (``workdir.untracked``).

``--porcelain`` (``-s``) prints git's stable two-letter format: ``XY path`` with
X the staged state and Y the unstaged one; an untracked directory with no
tracked files inside is shown once, as ``?? dir/``.  A conflicted path's code
says which stages the index holds for it (``UNMERGED`` below): ``UU`` both
modified (1, 2, 3), ``AA`` both added (2, 3), ``UD`` deleted by them (1, 2)...
The long format prints what ``git -c advice.statusHints=false status`` prints:
the same facts and labels, without git's "(use ...)" advice lines.
"""

from __future__ import annotations

import os

from ..index import IndexEntry
from ..paths import quote_path as quote
from ..porcelain import commit_tree_oid, head_oid, load_index_and_tree, save_index
from ..refs import read_head
from ..repo import Repository
from ..tree_diff import diff_maps, path_key
from ..trees import flatten_tree, index_map, tree_oid_of
from ..workdir import compare_with_index, untracked

# stages present for a conflicted path -> (porcelain code, long-format label), as git names them
UNMERGED = {(1, 2, 3): ("UU", "both modified:"), (2, 3): ("AA", "both added:"),
            (1, 2): ("UD", "deleted by them:"), (1, 3): ("DU", "deleted by us:"),
            (2,): ("AU", "added by us:"), (3,): ("UA", "added by them:"), (1,): ("DD", "both deleted:")}


def register(sub) -> None:
    p = sub.add_parser("status", help="show staged, unstaged and untracked changes")
    p.add_argument("-s", "--short", "--porcelain", dest="short", action="store_true")
    p.set_defaults(func=run)


def untracked_paths(repo, entries: list[IndexEntry]) -> list[str]:
    """Untracked files, collapsed to ``dir/`` where a directory holds no tracked file."""
    return sorted(untracked(repo.work_tree, repo.git_dir, [e.path for e in entries]), key=path_key)


def staged_changes(repo, entries: list[IndexEntry], cached_tree: str | None = None):
    """HEAD vs index.  If the index's top tree is HEAD's, nothing is staged and HEAD's trees need
    not be read at all (git's cache-tree shortcut).  That top tree is the one the index recorded
    (``cached_tree``, written by ``commit``) if it has one; otherwise the index's trees are hashed
    (nothing written) to find it."""
    head_tree = commit_tree_oid(repo, head_oid(repo))
    if head_tree is not None and cached_tree == head_tree:
        return []
    flat = index_map(entries)
    if head_tree is not None and tree_oid_of(flat) == head_tree:
        return []
    return diff_maps(flatten_tree(repo.odb, head_tree), flat)


def collect(repo) -> dict[str, list]:
    """Everything ``status`` reports, as lists of (code, path)."""
    # The index's mtime before reading it: if it is rewritten meanwhile, an older mtime only makes
    # more entries count as racily clean (hashed rather than trusted), which is the safe side.
    try:
        index_mtime = os.stat(repo.index_path).st_mtime_ns
    except FileNotFoundError:
        index_mtime = 0
    entries, cached_tree = load_index_and_tree(repo)
    staged = staged_changes(repo, entries, cached_tree)
    work = compare_with_index(repo.work_tree, entries, index_mtime)
    if work.refreshed:
        try:
            # a refresh changes stat data only, so the cached tree is still the entries' tree
            save_index(repo, entries, cached_tree)
        except Exception:  # noqa: BLE001 - a refresh is an optimisation; a locked index is fine
            pass
    stages: dict[str, tuple[int, ...]] = {}
    for e in entries:
        if e.stage:
            stages[e.path] = (*stages.get(e.path, ()), e.stage)
    unmerged = [(UNMERGED[tuple(sorted(stages[p]))][0], p) for p in sorted(stages, key=path_key)]
    return {"staged": [(c.status, c.path) for c in staged if c.path not in stages],
            "unstaged": [("T" if p in work.typechanged else "M", p) for p in work.modified]
            + [("D", p) for p in work.deleted],
            "unmerged": unmerged, "untracked": untracked_paths(repo, entries)}


def porcelain_lines(state: dict[str, list]) -> list[str]:
    codes: dict[str, list[str]] = {}
    for code, path in state["staged"]:
        codes.setdefault(path, [" ", " "])[0] = code
    for code, path in state["unstaged"]:
        codes.setdefault(path, [" ", " "])[1] = code
    for code, path in state["unmerged"]:
        codes[path] = list(code)
    ordered = sorted(codes.items(), key=lambda kv: path_key(kv[0]))
    lines = [f"{x}{y} {quote(p, quote_space=True)}" for p, (x, y) in ordered]
    return lines + [f"?? {quote(p, quote_space=True)}" for p in state["untracked"]]


def run(args) -> int:
    repo = Repository.discover()
    repo.require_work_tree()
    state = collect(repo)
    if args.short:
        for line in porcelain_lines(state):
            print(line)
        return 0
    print_long(repo, state)
    return 0


def print_long(repo, state: dict[str, list], unborn: str = "No commits yet") -> None:
    """The long format.  ``commit`` prints it too when there is nothing to commit, as git's does,
    with ``unborn="Initial commit"`` (git's wording there) on a branch with no commit yet."""
    head = read_head(repo.git_dir)
    print(f"On branch {head.branch}" if head.ref else f"HEAD detached at {(head.oid or '')[:7]}")
    if head.oid is None:
        print(f"\n{unborn}\n")
    if (repo.git_dir / "MERGE_HEAD").exists():
        print("You have unmerged paths.\n" if state["unmerged"] else
              "All conflicts fixed but you are still merging.\n")
    names = {"A": "new file:", "M": "modified:", "D": "deleted:", "T": "typechange:"}
    unmerged_names = {code: label for code, label in UNMERGED.values()}
    # git pads each label to the longest label of its section, plus one space
    sections = [("Changes to be committed:", state["staged"], names, 12),
                ("Unmerged paths:", state["unmerged"], unmerged_names, 17),
                ("Changes not staged for commit:", state["unstaged"], names, 12)]
    for title, items, labels, width in sections:
        if items:
            print(f"{title}")
            for code, path in items:
                print(f"\t{labels[code]:<{width}}{quote(path)}")
            print()
    if state["untracked"]:
        print("Untracked files:")
        for path in state["untracked"]:
            print(f"\t{quote(path)}")
        print()
    if state["staged"]:
        pass
    elif state["unstaged"] or state["unmerged"]:
        print("no changes added to commit")
    elif state["untracked"]:
        print("nothing added to commit but untracked files present")
    else:
        print("nothing to commit" + (", working tree clean" if head.oid else ""))
