"""``merge``: join another line of history into the current branch.

Three outcomes, as in git:

1. the other commit is already in our history: "Already up to date";
2. our commit is in *its* history: a **fast-forward** -- just move the branch
   (and the files) forward, no new commit;
3. the lines diverged: find the merge base, merge the three trees
   (``merging.merge_trees``), and either commit the result with two parents or
   stop with conflicts.  Then ``MERGE_HEAD`` and ``MERGE_MSG`` remember the merge
   in progress; after fixing the files, ``add`` + ``commit`` finish it (see
   ``commands/commit.py``), or ``merge --abort`` goes back.
"""

from __future__ import annotations

import sys

from ..errors import GitError
from ..history import is_ancestor, merge_base
from ..merging import apply_merge, merge_trees
from ..porcelain import (
    cleanup_message,
    head_oid,
    load_index,
    make_commit,
    move_head,
    save_index,
    tree_map_of_commit,
)
from ..refs import read_head, read_ref
from ..repo import Repository
from ..revision import resolve_commit
from ..switching import switch_trees
from ..trees import index_map, write_tree


def register(sub) -> None:
    p = sub.add_parser("merge", help="join another branch into the current one")
    p.add_argument("-m", dest="message")
    p.add_argument("--no-edit", action="store_true")
    p.add_argument("--no-ff", action="store_true")
    p.add_argument("--ff-only", action="store_true")
    p.add_argument("--abort", action="store_true")
    p.add_argument("commit", nargs="?")
    p.set_defaults(func=run)


def default_message(repo, name: str) -> str:
    kind = "branch" if read_ref(repo.git_dir, f"refs/heads/{name}") else \
        "tag" if read_ref(repo.git_dir, f"refs/tags/{name}") else "commit"
    current = read_head(repo.git_dir).branch
    into = f" into {current}" if current and current not in ("main", "master") else ""
    return f"Merge {kind} '{name}'{into}\n"


def merge(repo, name: str, message: str | None = None, no_ff: bool = False, ff_only: bool = False,
          out=None) -> bool:
    """Merge ``name`` into HEAD; True when done, False when stopped on conflicts."""
    out = out or sys.stdout
    if (repo.git_dir / "MERGE_HEAD").exists():
        raise GitError("You have not concluded your merge (MERGE_HEAD exists).")
    ours, theirs = head_oid(repo), resolve_commit(repo, name)
    if ours is None:
        raise GitError("merging into an unborn branch is not supported")
    if is_ancestor(repo, theirs, ours):
        print("Already up to date.", file=out)
        return True
    entries = load_index(repo)
    if is_ancestor(repo, ours, theirs) and not no_ff:
        print(f"Updating {ours[:7]}..{theirs[:7]}", file=out)
        save_index(repo, switch_trees(repo, entries, tree_map_of_commit(repo, ours),
                                      tree_map_of_commit(repo, theirs), action="merge"))
        print("Fast-forward", file=out)
        move_head(repo, theirs, f"merge {name}: Fast-forward")
        return True
    if ff_only:
        raise GitError("Not possible to fast-forward, aborting.")
    if index_map(entries) != tree_map_of_commit(repo, ours) or any(e.stage for e in entries):
        raise GitError("Your index has changes; commit or stash them before merging.")
    base = merge_base(repo, ours, theirs)
    base_map = tree_map_of_commit(repo, base) if base else {}
    result = merge_trees(repo.odb, base_map, tree_map_of_commit(repo, ours), tree_map_of_commit(repo, theirs),
                         "HEAD", name)
    new_entries = apply_merge(repo, entries, tree_map_of_commit(repo, ours), result)
    save_index(repo, new_entries)
    msg = cleanup_message(message) if message else default_message(repo, name)
    if result.conflicts:
        for path in result.conflicts:
            print(f"CONFLICT (content): Merge conflict in {path}", file=out)
        (repo.git_dir / "MERGE_HEAD").write_text(theirs + "\n")
        (repo.git_dir / "MERGE_MODE").write_text("no-ff" if no_ff else "")
        notes = "".join(f"#\t{p}\n" for p in result.conflicts)
        (repo.git_dir / "MERGE_MSG").write_text(f"{msg}\n# Conflicts:\n{notes}")
        print("Automatic merge failed; fix conflicts and then commit the result.", file=out)
        return False
    tree = write_tree(repo.odb, index_map(new_entries))
    make_commit(repo, tree, [ours, theirs], msg, f"merge {name}")
    print("Merge made by the 'ort' strategy.", file=out)
    return True


def abort(repo) -> None:
    if not (repo.git_dir / "MERGE_HEAD").exists():
        raise GitError("There is no merge to abort (MERGE_HEAD missing).")
    from .reset import reset
    reset(repo, "HEAD", "hard")
    for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"):
        (repo.git_dir / name).unlink(missing_ok=True)


def run(args) -> int:
    repo = Repository.discover()
    if args.abort:
        abort(repo)
        return 0
    if not args.commit:
        raise GitError("no commit to merge given")
    return 0 if merge(repo, args.commit, args.message, args.no_ff, args.ff_only) else 1
