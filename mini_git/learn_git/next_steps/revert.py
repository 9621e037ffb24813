"""``revert``: a new commit that undoes an old one, leaving history intact.

It is a three-way merge run backwards: the base is the commit being reverted,
"theirs" is that commit's parent, "ours" is HEAD.  Lines the commit added are
removed, lines it removed come back, and everything done since is kept.  The
message is git's: ``Revert "<subject>"`` and ``This reverts commit <id>.``  On
conflict, ``REVERT_HEAD`` and ``MERGE_MSG`` wait for ``add`` + ``commit``.
"""

from __future__ import annotations

import sys

from ..errors import GitError
from ..history import read_commit
from ..merging import apply_merge, merge_trees
from ..porcelain import head_oid, load_index, make_commit, save_index, subject, tree_map_of_commit
from ..repo import Repository
from ..revision import resolve_commit
from ..trees import index_map, write_tree


def register(sub) -> None:
    p = sub.add_parser("revert", help="make a commit that undoes an earlier one")
    p.add_argument("--no-edit", action="store_true")
    p.add_argument("commit")
    p.set_defaults(func=run)


def revert(repo, spec: str, out=None) -> str | None:
    out = out or sys.stdout
    target = resolve_commit(repo, spec)
    commit = read_commit(repo, target)
    if len(commit.parents) != 1:
        raise GitError("reverting a merge or root commit is not supported")
    ours = head_oid(repo)
    entries = load_index(repo)
    if index_map(entries) != tree_map_of_commit(repo, ours):
        raise GitError("your local changes would be overwritten by revert; commit or stash them")
    title = subject(commit.message)
    result = merge_trees(repo.odb, tree_map_of_commit(repo, target), tree_map_of_commit(repo, ours),
                         tree_map_of_commit(repo, commit.parents[0]), "HEAD",
                         f"parent of {target[:7]} ({title})")
    new_entries = apply_merge(repo, entries, tree_map_of_commit(repo, ours), result)
    save_index(repo, new_entries)
    message = f'Revert "{title}"\n\nThis reverts commit {target}.\n'
    if result.conflicts:
        (repo.git_dir / "REVERT_HEAD").write_text(target + "\n")
        notes = "".join(f"#\t{p}\n" for p in result.conflicts)
        (repo.git_dir / "MERGE_MSG").write_text(f"{message}\n# Conflicts:\n{notes}")
        for path in result.conflicts:
            print(f"CONFLICT (content): Merge conflict in {path}", file=out)
        print(f"error: could not revert {target[:7]}... {title}", file=sys.stderr)
        return None
    return make_commit(repo, write_tree(repo.odb, index_map(new_entries)), [ours], message, "revert")


def run(args) -> int:
    repo = Repository.discover()
    oid = revert(repo, args.commit)
    if oid is None:
        return 1
    print(f"[{repo.head().branch or 'HEAD'} {oid[:7]}] {subject(read_commit(repo, oid).message)}")
    return 0
