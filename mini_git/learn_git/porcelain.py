"""Helpers the everyday commands share: the index, HEAD's tree, making a commit.

Reading order: before ``commands/``.  These glue the pure formats to the
repository: load and save the index, flatten HEAD's tree, build the author and
committer signatures from the environment, write a commit and move the branch
(with a reflog line, as git does, so ``git reflog`` in our repositories works).
"""

from __future__ import annotations

import os
import re

from .errors import IndexFormatError
from .index import IndexEntry, read_index, read_index_and_tree, write_index
from .objects import Commit, Signature, parse_commit, serialize_commit
from .refs import read_head, update_ref
from .trees import FlatMap, flatten_tree


def load_index(repo) -> list[IndexEntry]:
    return read_index(repo.index_path)


def load_index_and_tree(repo) -> tuple[list[IndexEntry], str | None]:
    """The index and the top tree it says its entries make (its cache tree), if it has one."""
    return read_index_and_tree(repo.index_path)


def save_index(repo, entries: list[IndexEntry], tree: str | None = None) -> None:
    """Write the index; pass ``tree`` only if it is the tree these very entries make."""
    write_index(repo.index_path, entries, tree)


def index_stamp(repo) -> tuple[int, int, int] | None:
    """(mtime, size, inode) of the index file: equal stamps mean nobody rewrote it meanwhile."""
    try:
        st = os.stat(repo.index_path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def remember_tree(repo, entries: list[IndexEntry], tree: str, stamp: tuple[int, int, int] | None) -> None:
    """After a commit, record ``tree`` in the index (git's cache tree) for the next ``status``.

    ``entries`` must be the index as read when the file had ``stamp``; if it has been rewritten
    since, nothing is written.  Nor is it when an entry is *racily clean* (its mtime is not older
    than the index file's): rewriting the file would give it a newer mtime and make those
    entries look trustworthy without their content having been checked.  It is only an
    optimisation, so a locked index is left alone too.
    """
    if stamp is None or index_stamp(repo) != stamp:
        return
    if any(e.mtime_s * 1_000_000_000 + e.mtime_ns >= stamp[0] for e in entries):
        return
    try:
        save_index(repo, entries, tree)
    except IndexFormatError:
        pass


def head_oid(repo) -> str | None:
    return read_head(repo.git_dir).oid


def commit_tree_oid(repo, commit_oid: str | None) -> str | None:
    if commit_oid is None:
        return None
    return parse_commit(repo.odb.read_kind(commit_oid, "commit")).tree


def tree_map_of_commit(repo, commit_oid: str | None) -> FlatMap:
    return flatten_tree(repo.odb, commit_tree_oid(repo, commit_oid))


def who(repo, role: str = "COMMITTER", env=None) -> Signature:
    from .config import layered_get
    from .identity import signature  # only commands that write commits or reflogs need it

    env = os.environ if env is None else env
    return signature(role, env, layered_get(repo.config, env))


def cleanup_message(message: str) -> str:
    """git's ``--cleanup=whitespace``: strip trailing spaces and blank lines at both ends,
    squeeze runs of blank lines, end with one newline (an empty message stays empty)."""
    lines = [line.rstrip() for line in message.split("\n")]
    out: list[str] = []
    for line in lines:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def strip_comments(message: str) -> str:
    """``--cleanup=strip``: also drop ``#`` comment lines (used for MERGE_MSG)."""
    return cleanup_message("\n".join(line for line in message.split("\n") if not line.startswith("#")))


def subject(message: str) -> str:
    return message.split("\n\n", 1)[0].replace("\n", " ").strip()


def abbrev(oid: str) -> str:
    return oid[:7]


def make_commit(repo, tree: str, parents: list[str], message: str, reflog: str,
                author: Signature | None = None) -> str:
    """Write a commit object and move HEAD's branch (or detached HEAD) to it."""
    committer = who(repo, "COMMITTER")
    author = author or who(repo, "AUTHOR")
    oid = repo.odb.write("commit", serialize_commit(Commit(tree, parents, str(author), str(committer),
                                                           message)))
    old = head_oid(repo)
    update_ref(repo.git_dir, "HEAD", oid, old, message=f"{reflog}: {subject(message)}", who=str(committer))
    return oid


def move_head(repo, new_oid: str, reflog: str, detach: bool = False) -> None:
    """Point HEAD's branch (or HEAD itself when detached) at ``new_oid``, with a reflog line."""
    update_ref(repo.git_dir, "HEAD", new_oid, no_deref=detach, message=reflog, who=str(who_or_default(repo)))


def who_or_default(repo) -> Signature:
    try:
        return who(repo)
    except Exception:  # reflogs are best effort: no identity must not block a checkout
        return Signature("mini_git", "mini_git@localhost", 0, "+0000")


def branch_label(repo) -> str:
    head = read_head(repo.git_dir)
    return head.branch or "HEAD"


_CONFLICT = re.compile(rb"^(<{7}|={7}|>{7})( |$)", re.M)


def has_conflict_markers(data: bytes) -> bool:
    return bool(_CONFLICT.search(data))
