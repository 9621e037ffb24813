"""``status``: three snapshots compared -- HEAD's tree, the index, the work tree.

HEAD vs index is "Changes to be committed"; index vs work tree is "Changes not
staged"; files in neither are "Untracked".  The work-tree side is the costly
one, so it uses the index's stat data (``workdir.compare_with_index``): only
files whose size/mtime/ctime/inode changed are read and hashed.  When that
re-hashing finds a file unchanged, the fresh stat data is written back to the
index so the next ``status`` does not hash it again (git does the same).

``--porcelain`` (``-s``) prints git's stable two-letter format: ``XY path`` with
X the staged state and Y the unstaged one; an untracked directory with no
tracked files inside is shown once, as ``?? dir/``.
"""

from __future__ import annotations

from ..index import IndexEntry
from ..paths import quote_path as quote
from ..porcelain import commit_tree_oid, head_oid, load_index, save_index
from ..refs import read_head
from ..repo import Repository
from ..tree_diff import diff_maps, path_key
from ..trees import flatten_tree, index_map, tree_oid_of
from ..workdir import compare_with_index, scan


def register(sub) -> None:
    p = sub.add_parser("status", help="show staged, unstaged and untracked changes")
    p.add_argument("-s", "--short", "--porcelain", dest="short", action="store_true")
    p.set_defaults(func=run)


def untracked_paths(repo, entries: list[IndexEntry]) -> list[str]:
    """Untracked files, collapsed to ``dir/`` where a directory holds no tracked file."""
    tracked = {e.path for e in entries}
    tracked_dirs = set()
    for p in tracked:
        cut = p.rfind("/")
        while cut > 0 and p[:cut] not in tracked_dirs:
            tracked_dirs.add(p[:cut])
            cut = p.rfind("/", 0, cut)
    out = set()
    for path, _ in scan(repo.work_tree, repo.git_dir, with_stat=False):
        if path in tracked:
            continue
        parts = path.split("/")
        shown = path
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix not in tracked_dirs:
                shown = prefix + "/"
                break
        out.add(shown)
    return sorted(out, key=path_key)


def staged_changes(repo, entries: list[IndexEntry]):
    """HEAD vs index.  Hash the index's trees first (no writing): if the top tree is HEAD's,
    nothing is staged and HEAD's trees need not be read at all (git's cache-tree shortcut)."""
    flat = index_map(entries)
    head_tree = commit_tree_oid(repo, head_oid(repo))
    if head_tree is not None and tree_oid_of(flat) == head_tree:
        return []
    return diff_maps(flatten_tree(repo.odb, head_tree), flat)


def collect(repo) -> dict[str, list]:
    """Everything ``status`` reports, as lists of (code, path)."""
    entries = load_index(repo)
    index_mtime = repo.index_path.stat().st_mtime_ns if repo.index_path.exists() else 0
    staged = staged_changes(repo, entries)
    work = compare_with_index(repo.work_tree, entries, index_mtime)
    if work.refreshed:
        try:
            save_index(repo, entries)
        except Exception:  # noqa: BLE001 - a refresh is an optimisation; a locked index is fine
            pass
    unmerged = sorted({e.path for e in entries if e.stage}, key=path_key)
    return {"staged": [(c.status, c.path) for c in staged if c.path not in unmerged],
            "unstaged": [("T" if p in work.typechanged else "M", p) for p in work.modified]
            + [("D", p) for p in work.deleted],
            "unmerged": unmerged, "untracked": untracked_paths(repo, entries)}


def porcelain_lines(state: dict[str, list]) -> list[str]:
    codes: dict[str, list[str]] = {}
    for code, path in state["staged"]:
        codes.setdefault(path, [" ", " "])[0] = code
    for code, path in state["unstaged"]:
        codes.setdefault(path, [" ", " "])[1] = code
    for path in state["unmerged"]:
        codes[path] = ["U", "U"]
    lines = [f"{x}{y} {quote(p)}" for p, (x, y) in sorted(codes.items(), key=lambda kv: path_key(kv[0]))]
    return lines + [f"?? {quote(p)}" for p in state["untracked"]]


def run(args) -> int:
    repo = Repository.discover()
    repo.require_work_tree()
    state = collect(repo)
    if args.short:
        for line in porcelain_lines(state):
            print(line)
        return 0
    head = read_head(repo.git_dir)
    print(f"On branch {head.branch}" if head.ref else f"HEAD detached at {(head.oid or '')[:7]}")
    names = {"A": "new file", "M": "modified", "D": "deleted", "T": "typechange"}
    sections = [("Changes to be committed:", state["staged"]),
                ("Unmerged paths:", [("U", p) for p in state["unmerged"]]),
                ("Changes not staged for commit:", state["unstaged"])]
    for title, items in sections:
        if items:
            print(f"{title}")
            for code, path in items:
                print(f"\t{names.get(code, 'both modified') + ':':<12}{path}")
            print()
    if state["untracked"]:
        print("Untracked files:")
        for path in state["untracked"]:
            print(f"\t{path}")
        print()
    if not any(state.values()):
        print("nothing to commit, working tree clean")
    return 0
