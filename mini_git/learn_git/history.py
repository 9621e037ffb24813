"""Walking the commit graph: ``log`` order, ancestry and merge bases.

Reading order: with ``commands/log.py`` and ``commands/merge.py``.  ``git log``
shows commits newest first by *committer date*, visiting parents as it goes: a
priority queue keyed on the date, first come first served on ties, which is
what :func:`walk` does.  The merge base of two commits is a common ancestor
that is not an ancestor of another common ancestor (git-merge-base(1)).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from .objects import Commit, parse_commit, parse_signature


def read_commit(repo, oid: str) -> Commit:
    return parse_commit(repo.odb.read_kind(oid, "commit"))


def walk(repo, starts: list[str], first_parent: bool = False) -> Iterator[tuple[str, Commit]]:
    """Commits reachable from ``starts``, newest committer date first, each once."""
    seen = set(starts)
    heap, counter = [], 0
    for oid in starts:
        c = read_commit(repo, oid)
        heapq.heappush(heap, (-parse_signature(c.committer).when, counter, oid, c))
        counter += 1
    while heap:
        _, _, oid, commit = heapq.heappop(heap)
        yield oid, commit
        parents = commit.parents[:1] if first_parent else commit.parents
        for p in parents:
            if p not in seen:
                seen.add(p)
                pc = read_commit(repo, p)
                heapq.heappush(heap, (-parse_signature(pc.committer).when, counter, p, pc))
                counter += 1


def ancestors(repo, oid: str) -> set[str]:
    """``oid`` and every commit reachable from it."""
    found, todo = {oid}, [oid]
    while todo:
        for p in read_commit(repo, todo.pop()).parents:
            if p not in found:
                found.add(p)
                todo.append(p)
    return found


def is_ancestor(repo, ancestor: str, descendant: str) -> bool:
    return ancestor in ancestors(repo, descendant)


def merge_base(repo, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (None when the histories are unrelated)."""
    common = ancestors(repo, a) & ancestors(repo, b)
    if not common:
        return None
    # One walk from the parents of every common commit marks all the ones that are not "best".
    below: set[str] = set()
    todo = [p for c in common for p in read_commit(repo, c).parents]
    while todo:
        oid = todo.pop()
        if oid not in below:
            below.add(oid)
            todo.extend(read_commit(repo, oid).parents)
    best = [c for c in common if c not in below]
    best.sort(key=lambda c: -parse_signature(read_commit(repo, c).committer).when)
    return best[0]


def commits_between(repo, upstream: str, head: str) -> list[str]:
    """Commits on ``head``'s first-parent line that ``upstream`` lacks, oldest first (for rebase)."""
    excluded = ancestors(repo, upstream)
    picked, oid = [], head
    while oid not in excluded:
        c = read_commit(repo, oid)
        if len(c.parents) <= 1:  # rebase drops merge commits
            picked.append(oid)
        if not c.parents:
            break
        oid = c.parents[0]
    return picked[::-1]
