"""``status``: three snapshots compared -- HEAD's tree, the index, the work tree.

HEAD vs index is "Changes to be committed"; index vs work tree is "Changes not
staged"; files in neither are "Untracked".  The work-tree side uses the index's
stat data (``workdir.compare_with_index``): only files whose size/mtime/ctime/inode
changed are read and hashed.  When that re-hashing finds a file unchanged, the
fresh stat data is written back to the index so the next ``status`` does not
hash it again (git does the same).  Untracked files are what ``workdir.untracked``
finds on disk that the index does not list.

This is the plain version, the one to read.  ``python -m learn_git status`` runs
``status_fast.py`` first (the shortcuts a 2,000-file benchmark needs: the index's
cache tree, no dataclasses imported), which falls back to this module whenever
its shortcuts do not apply; ``python -m learn_git --plain status`` runs this one
alone.  ``tests/mini_git/test_git_status_paths.py`` checks that both agree.

``--porcelain`` (``-s``) prints git's stable two-letter format: ``XY path`` with
X the staged state and Y the unstaged one; an untracked directory with no
tracked files inside is shown once, as ``?? dir/``.  A conflicted path's code
says which stages the index holds for it (``status_report.UNMERGED``): ``UU`` both
modified (1, 2, 3), ``AA`` both added (2, 3), ``UD`` deleted by them (1, 2)...
The long format prints what ``git -c advice.statusHints=false status`` prints:
the same facts and labels, without git's "(use ...)" advice lines.
"""

from __future__ import annotations

import os

from .. import status_report as report
from ..index import IndexEntry
from ..porcelain import commit_tree_oid, head_oid, load_index_and_tree, save_index
from ..refs import read_head
from ..repo import Repository
from ..tree_diff import diff_maps, path_key
from ..trees import flatten_tree, index_map
from ..workdir import compare_with_index, untracked


def register(sub) -> None:
    p = sub.add_parser("status", help="show staged, unstaged and untracked changes")
    p.add_argument("-s", "--short", "--porcelain", dest="short", action="store_true")
    p.set_defaults(func=run)


def untracked_paths(repo, entries: list[IndexEntry]) -> list[str]:
    """Untracked files, collapsed to ``dir/`` where a directory holds no tracked file."""
    return sorted(untracked(repo.work_tree, repo.git_dir, [e.path for e in entries]), key=path_key)


def staged_changes(repo, entries: list[IndexEntry]):
    """HEAD vs index: HEAD's tree flattened to ``{path: (mode, id)}``, compared with the index's."""
    head_tree = commit_tree_oid(repo, head_oid(repo))
    return diff_maps(flatten_tree(repo.odb, head_tree), index_map(entries))


def collect(repo) -> dict[str, list]:
    """Everything ``status`` reports, as lists of (code, path)."""
    # The index's mtime before reading it: if it is rewritten meanwhile, an older mtime only makes
    # more entries count as racily clean (hashed rather than trusted), which is the safe side.
    try:
        index_mtime = os.stat(repo.index_path).st_mtime_ns
    except FileNotFoundError:
        index_mtime = 0
    entries, cached_tree = load_index_and_tree(repo)
    staged = staged_changes(repo, entries)
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
    unmerged = [(report.UNMERGED[tuple(sorted(stages[p]))][0], p) for p in sorted(stages, key=path_key)]
    return {"staged": [(c.status, c.path) for c in staged if c.path not in stages],
            "unstaged": [("T" if p in work.typechanged else "M", p) for p in work.modified]
            + [("D", p) for p in work.deleted],
            "unmerged": unmerged, "untracked": untracked_paths(repo, entries)}


def run(args) -> int:
    repo = Repository.discover()
    repo.require_work_tree()
    state = collect(repo)
    if args.short:
        for line in report.porcelain_lines(state):
            print(line)
        return 0
    print_long(repo, state)
    return 0


def print_long(repo, state: dict[str, list], unborn: str = "No commits yet") -> None:
    """The long format (``status_report.print_long``) for ``repo``'s HEAD.  ``commit`` prints it
    too when there is nothing to commit, as git's does, with ``unborn="Initial commit"``."""
    head = read_head(repo.git_dir)
    report.print_long(head.branch, head.oid, (repo.git_dir / "MERGE_HEAD").exists(), state, unborn)
