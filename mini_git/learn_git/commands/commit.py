"""``commit``: turn the index into trees, write a commit, move the branch.

The steps (see the sequence diagram in the README): the index becomes a tree
per directory (``trees.write_tree``), then a commit object names the top
tree, the parent(s), the author and committer and the message; finally the
branch HEAD names is moved to it with the lock-and-rename protocol of
``refs.update_ref``.  After a conflicted merge, revert or cherry-pick the extra
parent comes from ``MERGE_HEAD`` and the default message from ``MERGE_MSG``.
When nothing would change -- the index makes the parent's tree, or is empty on a
branch with no commit yet -- it stops as git's does: the long ``status`` on
stdout and exit code 1 (``--allow-empty`` commits anyway).
"""

from __future__ import annotations

from ..errors import GitError
from ..porcelain import (
    abbrev,
    branch_label,
    cleanup_message,
    commit_tree_oid,
    head_oid,
    index_stamp,
    load_index,
    make_commit,
    remember_tree,
    strip_comments,
    subject,
)
from ..repo import Repository
from ..trees import conflicted_paths, index_map, write_tree
from .add import add_paths
from .status import collect, print_long


class NothingToCommit(GitError):
    """The index holds exactly the parent's tree (or, for a first commit, nothing at all).

    ``run`` answers it as git does: the long status on stdout, exit code 1."""

    exit_code = 1
    prefix = "error"


STATE_FILES = ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "REVERT_HEAD", "CHERRY_PICK_HEAD")


def register(sub) -> None:
    p = sub.add_parser("commit", help="record the index as a new commit")
    p.add_argument("-m", "--message", action="append", default=[])
    p.add_argument("-a", "--all", action="store_true", help="stage changes to tracked files first")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--allow-empty", action="store_true")
    p.set_defaults(func=run)


def commit_index(repo, message: str | None, allow_empty: bool = False) -> str:
    """Commit what is staged; returns the new commit id."""
    stamp = index_stamp(repo)
    entries = load_index(repo)
    unmerged = conflicted_paths(entries)
    if unmerged:
        raise GitError("Committing is not possible because you have unmerged files: " + ", ".join(unmerged))
    parent = head_oid(repo)
    merge_head = repo.git_dir / "MERGE_HEAD"
    extra = merge_head.read_text().split() if merge_head.is_file() else []
    # Decided before the message is looked at, as git does.  On an unborn branch an empty index
    # is nothing to commit too: git commits the empty tree only with --allow-empty.
    flat = index_map(entries)
    check = not extra and not allow_empty
    if check and parent is None and not flat:
        raise NothingToCommit("nothing to commit")
    tree = write_tree(repo.odb, flat)   # when it is the parent's tree, its objects all exist already
    if check and parent is not None and tree == commit_tree_oid(repo, parent):
        raise NothingToCommit("nothing to commit")
    if message is None:
        merge_msg = repo.git_dir / "MERGE_MSG"
        if not merge_msg.is_file():
            raise GitError("no commit message given (use -m)")
        message = strip_comments(merge_msg.read_text())
    if not message.strip():
        raise GitError("Aborting commit due to empty commit message.")
    parents = ([parent] if parent else []) + extra
    kind = "commit (initial)" if parent is None else "commit (merge)" if extra else "commit"
    oid = make_commit(repo, tree, parents, message, kind)
    remember_tree(repo, entries, tree, stamp)  # as git's commit does: the next status skips hashing trees
    for name in STATE_FILES:
        (repo.git_dir / name).unlink(missing_ok=True)
    return oid


def run(args) -> int:
    repo = Repository.discover()
    if args.all:
        tracked = sorted({e.path for e in load_index(repo)})
        if tracked:
            add_paths(repo, tracked)
    message = cleanup_message("\n\n".join(args.message)) if args.message else None
    was_root = head_oid(repo) is None
    try:
        oid = commit_index(repo, message, args.allow_empty)
    except NothingToCommit:
        # git prints its long status (to stdout, even with -q) and exits 1
        print_long(repo, collect(repo), unborn="Initial commit")
        return NothingToCommit.exit_code
    if not args.quiet:
        root = " (root-commit)" if was_root else ""
        print(f"[{branch_label(repo)}{root} {abbrev(oid)}] {subject(message or '')}")
    return 0
