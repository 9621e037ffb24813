"""``worktree add/list/remove``: more than one work tree sharing one repository.

git's layout, so real git agrees: the new directory gets a ``.git`` *file*
(``gitdir: <repo>/.git/worktrees/<name>``); ``.git/worktrees/<name>/`` holds
that tree's own ``HEAD``, ``index``, ``commondir`` (``../..``: where objects,
refs and config are) and ``gitdir`` (the path of the ``.git`` file, so git can
tell when a worktree was deleted).  Objects and branches are shared; a branch
may be checked out in only one worktree at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import GitError
from ..porcelain import save_index, tree_map_of_commit
from ..refs import branch_exists, common_dir, read_head, read_ref, set_head_symbolic, update_ref
from ..repo import Repository, all_worktrees, checked_out_branches
from ..revision import resolve_commit
from ..switching import switch_trees
from ..workdir import remove_tree


def register(sub) -> None:
    p = sub.add_parser("worktree", help="manage extra working trees")
    wsub = p.add_subparsers(dest="action", required=True)
    a = wsub.add_parser("add")
    a.add_argument("-b", dest="new_branch")
    a.add_argument("--detach", action="store_true")
    a.add_argument("path")
    a.add_argument("commitish", nargs="?")
    a.set_defaults(func=run_add)
    wsub.add_parser("list").set_defaults(func=run_list)
    r = wsub.add_parser("remove")
    r.add_argument("-f", "--force", action="store_true")
    r.add_argument("path")
    r.set_defaults(func=run_remove)


def run_add(args) -> int:
    repo = Repository.discover()
    path = Path(args.path).resolve()  # git records the real, absolute path ("../x" normalised)
    if path.exists() and any(path.iterdir()):
        raise GitError(f"'{args.path}' already exists")
    name = path.name
    common = common_dir(repo.git_dir)
    admin = common / "worktrees" / name
    if admin.exists():
        raise GitError(f"a worktree named '{name}' already exists")
    start = args.commitish or "HEAD"
    branch = args.new_branch
    if branch is None and not args.detach:
        if args.commitish and branch_exists(repo.git_dir, args.commitish):
            branch = args.commitish
        elif args.commitish is None:
            branch = name
            args.new_branch = name  # git creates a branch named after the directory
    oid = resolve_commit(repo, start)
    ref = f"refs/heads/{branch}" if branch else None
    if ref and ref in checked_out_branches(repo) | ({repo.head().ref: None} if repo.head().ref else {}):
        raise GitError(f"'{branch}' is already checked out")
    if args.new_branch:
        if read_ref(repo.git_dir, ref):
            raise GitError(f"a branch named '{branch}' already exists")
        update_ref(repo.git_dir, ref, oid, None)
    admin.mkdir(parents=True)
    path.mkdir(parents=True, exist_ok=True)
    (admin / "commondir").write_text("../..\n")
    (admin / "gitdir").write_text(f"{path / '.git'}\n")
    (path / ".git").write_text(f"gitdir: {admin}\n")
    if ref:
        set_head_symbolic(admin, ref)
    else:
        (admin / "HEAD").write_text(oid + "\n")
    wt = Repository(admin, path)
    save_index(wt, switch_trees(wt, [], {}, tree_map_of_commit(wt, oid)))
    print(f"Preparing worktree ({'new branch' if args.new_branch else 'checking out'} '{branch or oid[:7]}')")
    return 0


def run_list(args) -> int:
    repo = Repository.discover()
    rows = []
    for path, git_dir in all_worktrees(repo):
        head = read_head(git_dir)
        where = f"[{head.branch}]" if head.ref else "(detached HEAD)"
        rows.append((str(path), (head.oid or "0" * 40)[:7], where))
    width = max(len(r[0]) for r in rows)
    for p, oid, where in rows:
        print(f"{p:<{width + 1}} {oid} {where}")  # git pads to the longest path + 1
    return 0


def run_remove(args) -> int:
    repo = Repository.discover()
    target = Path(args.path).absolute().resolve()
    for path, git_dir in all_worktrees(repo)[1:]:
        if path.resolve() == target:
            if not args.force:
                from ..commands.status import collect
                state = collect(Repository(git_dir, path))
                if any(state.values()):
                    raise GitError(f"'{args.path}' contains modified or untracked files, "
                                   "use --force to delete it")
            if path.exists():
                remove_tree(path)
            remove_tree(git_dir)
            if not any(git_dir.parent.iterdir()):
                os.rmdir(git_dir.parent)
            return 0
    raise GitError(f"'{args.path}' is not a working tree")
