"""``checkout`` and ``switch``: move HEAD to another branch or commit, updating the files.

``switching.switch_trees`` does the careful part (only changed paths touched,
local changes to them refused).  Then HEAD is rewritten: ``ref: refs/heads/<b>``
for a branch, a bare commit id for a detached HEAD.  ``checkout -- <paths>``
is the other job of the old command: put the index's version of files back.
"""

from __future__ import annotations

from ..errors import GitError
from ..porcelain import load_index, save_index, tree_map_of_commit, who_or_default
from ..refs import branch_exists, read_head, read_ref, set_head_symbolic, update_ref
from ..repo import Repository, checked_out_branches
from ..revision import resolve_commit
from ..switching import restore_paths, switch_trees
from ..trees import index_map
from .branch import create_branch


def register(sub) -> None:
    for name in ("checkout", "switch"):
        p = sub.add_parser(name, help="switch branches" + (" or restore files" if name == "checkout" else ""))
        p.add_argument("-b" if name == "checkout" else "-c", dest="new_branch")
        p.add_argument("--detach", action="store_true")
        p.add_argument("-f", "--force", action="store_true")
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("target", nargs="?")
        p.add_argument("paths", nargs="*")
        p.set_defaults(func=run, command_name=name)


def switch_to(repo, target: str | None, new_branch: str | None = None, detach: bool = False,
              force: bool = False) -> str:
    """Switch HEAD to ``target`` (a branch or a commit); returns a message like git's."""
    head = read_head(repo.git_dir)
    branch_ref = f"refs/heads/{target}" if target and branch_exists(repo.git_dir, target) else None
    oid = resolve_commit(repo, target or "HEAD")
    if new_branch:
        branch_ref = f"refs/heads/{new_branch}"
        if read_ref(repo.git_dir, branch_ref):
            raise GitError(f"a branch named '{new_branch}' already exists")
    if detach:
        branch_ref = None
    if branch_ref and branch_ref != head.ref and branch_ref in checked_out_branches(repo):
        where = checked_out_branches(repo)[branch_ref]
        raise GitError(f"'{branch_ref[11:]}' is already checked out at '{where}'")
    entries = load_index(repo)
    new_entries = switch_trees(repo, entries, tree_map_of_commit(repo, head.oid),
                               tree_map_of_commit(repo, oid), force)
    save_index(repo, new_entries)
    if new_branch:
        create_branch(repo, new_branch, oid)
    old_name = head.branch or (head.oid or "")[:7]
    reflog = f"checkout: moving from {old_name} to {new_branch or target or 'HEAD'}"
    sig = str(who_or_default(repo))
    if branch_ref:
        set_head_symbolic(repo.git_dir, branch_ref)
        from ..refs import append_reflog
        append_reflog(repo.git_dir, "HEAD", head.oid, oid, sig, reflog)
        name = branch_ref[11:]
        return f"Switched to a new branch '{name}'" if new_branch else f"Switched to branch '{name}'"
    update_ref(repo.git_dir, "HEAD", oid, no_deref=True, message=reflog, who=sig)
    from ..history import read_commit
    from ..porcelain import subject
    return f"HEAD is now at {oid[:7]} {subject(read_commit(repo, oid).message)}"


def run(args) -> int:
    repo = Repository.discover()
    repo.require_work_tree()
    paths = list(args.paths)
    target = args.target
    if args.command_name == "checkout" and target is not None and not args.new_branch:
        is_rev = True
        try:
            resolve_commit(repo, target)
        except GitError:
            is_rev = False
        if not is_rev or paths or target == "--":
            if target != "--":
                paths.insert(0, target)
            return restore_from_index(repo, paths)
    if target is None and not args.new_branch:
        raise GitError("missing branch or commit argument")
    message = switch_to(repo, target, args.new_branch, args.detach or (
        args.command_name == "checkout" and target is not None
        and not branch_exists(repo.git_dir, target) and not args.new_branch), args.force)
    if not args.quiet:
        import sys
        print(message, file=sys.stderr)
    return 0


def restore_from_index(repo, raw_paths: list[str]) -> int:
    entries = load_index(repo)
    flat = index_map(entries)
    wanted = []
    for raw in raw_paths:
        rel = repo.relpath(raw)
        matched = [p for p in flat if rel == "" or p == rel or p.startswith(rel + "/")]
        if not matched:
            raise GitError(f"pathspec '{raw}' did not match any file(s) known to git")
        wanted += matched
    by_path = {e.path: e for e in entries}
    from ..index import entry_from_stat
    for path, st in restore_paths(repo, flat, sorted(set(wanted))):
        by_path[path] = entry_from_stat(path, flat[path][1], st)
    save_index(repo, list(by_path.values()))
    return 0
