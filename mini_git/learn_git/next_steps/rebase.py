"""``rebase <upstream>``: replay the current branch's own commits on top of another commit.

Each commit is re-applied as a three-way merge (a "cherry-pick"): base = its
parent's tree, ours = the tree built so far, theirs = its own tree.  The replay
runs entirely in the object store -- trees and commits are written, no file is
touched -- and only the finished result is checked out, so a conflict leaves
nothing half-done: mini_git then stops without changing anything (git instead
pauses mid-way for you to resolve; that is an exercise).  Authors and messages
are kept; the committer is you, now -- which is why rebased commits get new ids.
Not handled: merge commits on the branch (dropped, as git does by default) and
skipping commits already upstream (git compares patch ids).
"""

from __future__ import annotations

from ..errors import GitError, MergeConflict
from ..history import commits_between, is_ancestor, read_commit
from ..merging import merge_trees
from ..objects import Commit, serialize_commit
from ..porcelain import load_index, save_index, tree_map_of_commit, who
from ..refs import read_head, update_ref
from ..repo import Repository
from ..revision import resolve_commit
from ..switching import switch_trees
from ..trees import index_map, write_tree


def register(sub) -> None:
    p = sub.add_parser("rebase", help="replay this branch's commits onto another commit")
    p.add_argument("upstream")
    p.set_defaults(func=run)


def rebase(repo, upstream_spec: str) -> str:
    head = read_head(repo.git_dir)
    if head.ref is None or head.oid is None:
        raise GitError("rebase needs a branch with commits checked out")
    ours, upstream = head.oid, resolve_commit(repo, upstream_spec)
    entries = load_index(repo)
    if index_map(entries) != tree_map_of_commit(repo, ours) or any(e.stage for e in entries):
        raise GitError("cannot rebase: your index contains uncommitted changes")
    if is_ancestor(repo, upstream, ours):
        return ours  # already based on upstream
    tip = upstream
    if not is_ancestor(repo, ours, upstream):
        for oid in commits_between(repo, upstream, ours):
            c = read_commit(repo, oid)
            base = tree_map_of_commit(repo, c.parents[0])
            result = merge_trees(repo.odb, base, tree_map_of_commit(repo, tip), tree_map_of_commit(repo, oid),
                                 "HEAD", oid[:7])
            if result.conflicts:
                raise MergeConflict(f"could not apply {oid[:7]}: conflict in {', '.join(result.conflicts)}; "
                                    "nothing was changed (mini_git rebases all or nothing)")
            tree = write_tree(repo.odb, result.merged)
            new = Commit(tree, [tip], c.author, str(who(repo, "COMMITTER")), c.message, c.extra_headers)
            tip = repo.odb.write("commit", serialize_commit(new))
    old_map, new_map = tree_map_of_commit(repo, ours), tree_map_of_commit(repo, tip)
    save_index(repo, switch_trees(repo, entries, old_map, new_map))
    (repo.git_dir / "ORIG_HEAD").write_text(ours + "\n")
    committer = who(repo, "COMMITTER")
    update_ref(repo.git_dir, head.ref, tip, ours,
               message=f"rebase (finish): {head.ref} onto {upstream}", who=str(committer))
    return tip


def run(args) -> int:
    repo = Repository.discover()
    before = repo.head().oid
    tip = rebase(repo, args.upstream)
    if tip == before:
        print(f"Current branch {repo.head().branch} is up to date.")
    else:
        print(f"Successfully rebased and updated {repo.head().ref}.")
    return 0
