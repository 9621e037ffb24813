"""``stash push/pop/list``: put local changes aside as commits, and bring them back.

A stash is two commits, exactly as git builds them so ``git stash list`` reads ours:

- ``i``: the index as a tree, parent HEAD, message ``index on <branch>: <abbrev> <subject>``;
- ``w``: the tracked files as they are on disk, parents HEAD and ``i``, message
  ``WIP on <branch>: ...`` (git writes this one without a final newline).

``refs/stash`` points at the newest ``w``; older stashes live only in its reflog
(``logs/refs/stash``), which is what ``stash@{n}`` reads.  ``pop`` merges ``w``
into the current files (base = the HEAD it was made on), then drops the entry.
Untracked files are not stashed (git needs ``-u`` for them too).
"""

from __future__ import annotations

from ..commands.reset import index_from_tree, reset
from ..errors import GitError
from ..history import read_commit
from ..index import mode_from_stat
from ..merging import apply_merge, merge_trees
from ..objects import Commit, serialize_commit
from ..porcelain import abbrev, head_oid, load_index, save_index, subject, tree_map_of_commit, who
from ..refs import common_dir, delete_ref, read_head, read_ref, update_ref
from ..repo import Repository
from ..trees import index_map, write_tree
from ..workdir import compare_with_index, hash_file


def register(sub) -> None:
    p = sub.add_parser("stash", help="set local changes aside")
    ssub = p.add_subparsers(dest="action")
    ps = ssub.add_parser("push")
    ps.add_argument("-m", "--message")
    ps.set_defaults(func=run_push)
    ssub.add_parser("pop").set_defaults(func=run_pop)
    ssub.add_parser("list").set_defaults(func=run_list)
    p.set_defaults(func=run_push, message=None)


def log_path(repo):
    return common_dir(repo.git_dir) / "logs" / "refs" / "stash"


def stash_entries(repo) -> list[tuple[str, str]]:
    """(oid, message) newest first."""
    path = log_path(repo)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(errors="surrogateescape").splitlines():
        head, _, message = line.partition("\t")
        rows.append((head.split(" ")[1], message))
    return rows[::-1]


def push(repo, message: str | None = None) -> str | None:
    head = head_oid(repo)
    if head is None:
        raise GitError("You do not have the initial commit yet")
    entries = load_index(repo)
    work = compare_with_index(repo.require_work_tree(), entries, 1 << 62)
    staged = index_map(entries)
    if staged == tree_map_of_commit(repo, head) and not work.modified and not work.deleted:
        return None
    branch = read_head(repo.git_dir).branch or "(no branch)"
    c = read_commit(repo, head)
    title = f"{branch}: {abbrev(head)} {subject(c.message)}"
    author, committer = str(who(repo, "AUTHOR")), str(who(repo, "COMMITTER"))
    i_tree = write_tree(repo.odb, staged)
    i_commit = repo.odb.write("commit", serialize_commit(
        Commit(i_tree, [head], author, committer, f"index on {title}\n")))
    on_disk = dict(staged)
    for path in work.deleted:
        on_disk.pop(path, None)
    for path in work.modified:
        oid, data, st = hash_file(repo.work_tree, path)
        repo.odb.write("blob", data)
        on_disk[path] = (mode_from_stat(st), oid)
    wip = f"On {branch}: {message}" if message else f"WIP on {title}"
    w_commit = repo.odb.write("commit", serialize_commit(
        Commit(write_tree(repo.odb, on_disk), [head, i_commit], author, committer, wip)))
    update_ref(repo.git_dir, "refs/stash", w_commit, message=wip, who=committer)
    reset(repo, "HEAD", "hard")
    return wip


def drop_top(repo) -> None:
    path = log_path(repo)
    lines = path.read_text(errors="surrogateescape").splitlines(keepends=True)[:-1]
    if not lines:
        delete_ref(repo.git_dir, "refs/stash")
        return
    path.write_text("".join(lines), errors="surrogateescape")
    update_ref(repo.git_dir, "refs/stash", lines[-1].split(" ")[1])


def pop(repo) -> tuple[str, bool]:
    stash = read_ref(repo.git_dir, "refs/stash")
    if stash is None:
        raise GitError("No stash entries found.")
    w = read_commit(repo, stash)
    base, i_commit = w.parents[0], w.parents[1]
    ours = head_oid(repo)
    entries = load_index(repo)
    ours_map = tree_map_of_commit(repo, ours)
    result = merge_trees(repo.odb, tree_map_of_commit(repo, base), ours_map, tree_map_of_commit(repo, stash),
                         "Updated upstream", "Stashed changes")
    new_entries = apply_merge(repo, entries, ours_map, result)
    if result.conflicts:
        save_index(repo, new_entries)
        return stash, False
    # Like git without --index: changes come back unstaged, except files the stash had added.
    added = tree_map_of_commit(repo, i_commit).keys() - tree_map_of_commit(repo, base).keys()
    target = dict(ours_map)
    for path in added:
        if path in result.merged:
            target[path] = result.merged[path]
    by_path = {e.path: e for e in new_entries}
    final = [by_path[p] if p in by_path and (by_path[p].mode, by_path[p].oid) == v else e
             for p, v in target.items() for e in index_from_tree([], {p: v})]
    save_index(repo, final)
    drop_top(repo)
    return stash, True


def run_push(args) -> int:
    repo = Repository.discover()
    saved = push(repo, getattr(args, "message", None))
    print(f"Saved working directory and index state {saved}" if saved else "No local changes to save")
    return 0


def run_pop(args) -> int:
    repo = Repository.discover()
    stash, clean = pop(repo)
    if not clean:
        print("CONFLICT: the stash is kept; resolve, then drop it")
        return 1
    print(f"Dropped refs/stash@{{0}} ({stash})")
    return 0


def run_list(args) -> int:
    for n, (_oid, message) in enumerate(stash_entries(Repository.discover())):
        print(f"stash@{{{n}}}: {message}")
    return 0
