"""``branch``: list, create and delete branches -- files under ``refs/heads/``.

A branch is only a ref: creating one writes 41 bytes, deleting one removes a
file (or a ``packed-refs`` line).  ``-d`` refuses to delete a branch whose
commits are not in HEAD's history (they would become unreachable); ``-D``
deletes anyway.  A branch checked out in another worktree is listed with ``+``
and cannot be deleted.
"""

from __future__ import annotations

from ..errors import GitError
from ..history import is_ancestor
from ..refs import check_ref_name, delete_ref, list_refs, read_head, read_ref, update_ref
from ..repo import Repository, checked_out_branches
from ..revision import resolve_commit


def register(sub) -> None:
    p = sub.add_parser("branch", help="list, create or delete branches")
    p.add_argument("-d", "--delete", action="store_true")
    p.add_argument("-D", dest="force_delete", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("name", nargs="?")
    p.add_argument("start_point", nargs="?", default="HEAD")
    p.set_defaults(func=run)


class NotFullyMerged(GitError):
    exit_code = 1  # git says "error:" and exits 1 here
    prefix = "error"


def create_branch(repo, name: str, start: str = "HEAD", force: bool = False) -> str:
    ref = check_ref_name(f"refs/heads/{name}")
    oid = resolve_commit(repo, start)
    if read_ref(repo.git_dir, ref) and not force:
        raise GitError(f"a branch named '{name}' already exists")
    from ..porcelain import who_or_default
    update_ref(repo.git_dir, ref, oid, message=f"branch: Created from {start}", who=str(who_or_default(repo)))
    return oid


def delete_branch(repo, name: str, force: bool) -> str:
    ref = f"refs/heads/{name}"
    oid = read_ref(repo.git_dir, ref)
    if oid is None:
        raise GitError(f"branch '{name}' not found.")
    where = checked_out_branches(repo).get(ref)
    if where is not None:
        raise GitError(f"Cannot delete branch '{name}' checked out at '{where}'")
    head = read_head(repo.git_dir).oid
    if not force and (head is None or not is_ancestor(repo, oid, head)):
        raise NotFullyMerged(f"The branch '{name}' is not fully merged.\n"
                       f"If you are sure you want to delete it, run 'git branch -D {name}'.")
    delete_ref(repo.git_dir, ref)
    return oid


def run(args) -> int:
    repo = Repository.discover()
    if args.delete or args.force_delete:
        if not args.name:
            raise GitError("branch name required")
        oid = delete_branch(repo, args.name, args.force_delete)
        print(f"Deleted branch {args.name} (was {oid[:7]}).")
        return 0
    if args.name:
        create_branch(repo, args.name, args.start_point, args.force)
        return 0
    head = read_head(repo.git_dir)
    elsewhere = checked_out_branches(repo)
    if head.detached:
        print(f"* (HEAD detached at {(head.oid or '')[:7]})")
    for ref in list_refs(repo.git_dir, "refs/heads/"):
        mark = "* " if ref == head.ref else "+ " if ref in elsewhere else "  "
        print(mark + ref.removeprefix("refs/heads/"))
    return 0
