"""Reachability: which objects one side must send so the other side has a whole history.

Reading order: after ``pack_stream.py``; used by ``upload_pack.py`` (what to
send a fetching client), ``remote.py`` (what to push) and ``receive_pack.py``
(is an update a fast-forward?).
Spec: gitprotocol-pack "Packfile Negotiation": the pack holds the objects
reachable from the *wants* that are not reachable from the common *haves*.

The walk has two halves:

- **commits**: everything reachable from the wants through ``parent`` links,
  stopping at any commit reachable from a have;
- **trees and blobs** of those commits, minus the trees and blobs of the
  *boundary*: the have commits that a sent commit names as its parent.  Like
  ``git rev-list --objects`` we only look at the boundary, not at the whole
  uninteresting history, so the pack may repeat an object the other side
  already has deeper down.  That is allowed; a missing one would not be.
"""

from __future__ import annotations

from collections import deque

from ..errors import ObjectMissing
from ..objects import parse_commit, parse_tag, parse_tree

ZERO_OID = "0" * 40


def peel(odb, oid: str) -> tuple[str, list[str]]:
    """Follow annotated tags to what they finally name: (target, [tag ids on the way])."""
    tags = []
    kind, data = odb.read(oid)
    while kind == "tag":
        tags.append(oid)
        oid = parse_tag(data).object
        kind, data = odb.read(oid)
    return oid, tags


def ancestors(odb, tips: list[str], stop=None, skip_missing: bool = False) -> dict[str, None]:
    """Every commit reachable from ``tips`` (themselves included), not walking into ``stop``.

    The result is a dict used as an *ordered* set: newest first, in walk order,
    which is also roughly the order of the delta chains in a pack, so reading
    trees in this order keeps the pack reader's base cache warm.
    """
    stop = stop or set()
    seen: dict[str, None] = {}
    queue = deque(tip for tip in tips if tip not in stop)
    while queue:
        oid = queue.popleft()
        if oid in seen:
            continue
        try:
            kind, data = odb.read(oid)
        except ObjectMissing:
            if skip_missing:
                continue
            raise
        if kind != "commit":
            continue
        seen[oid] = None
        queue.extend(p for p in parse_commit(data).parents if p not in seen and p not in stop)
    return seen


def tree_objects(odb, tree: str, into: set[str], order: list[str], exclude: set[str]) -> None:
    """Add ``tree`` and everything under it to ``into``/``order``, skipping ``exclude``."""
    stack = [tree]
    while stack:
        oid = stack.pop()
        if oid in into or oid in exclude:
            continue
        into.add(oid)
        order.append(oid)
        for entry in parse_tree(odb.read_kind(oid, "tree")):
            if entry.mode == "160000":
                continue  # a submodule commit lives in another repository
            if entry.is_tree:
                stack.append(entry.oid)
            elif entry.oid not in into and entry.oid not in exclude:
                into.add(entry.oid)
                order.append(entry.oid)


def objects_to_send(odb, wants: list[str], haves: list[str], tree_walk=tree_objects) -> list[str]:
    """Object ids reachable from ``wants`` but not from ``haves``: commits first, then tags, trees, blobs.

    ``haves`` the store does not hold are ignored (a client may know more than we do).
    ``tree_walk``: :func:`tree_objects`, or a function that does the same faster (the server
    passes ``walk_fast.tree_objects``).
    """
    have_tips = []
    for have in haves:
        if have != ZERO_OID and odb.contains(have):
            have_tips.append(peel(odb, have)[0])
    uninteresting = ancestors(odb, have_tips, skip_missing=True)

    tags: list[str] = []
    commit_tips: list[str] = []
    others: list[str] = []          # a want that is directly a tree or blob
    for want in wants:
        target, chain = peel(odb, want)
        tags.extend(chain)
        kind, _ = odb.read(target)
        (commit_tips if kind == "commit" else others).append(target)
    commits = ancestors(odb, commit_tips, stop=uninteresting)

    # The boundary's trees: what the other side surely has already.
    exclude: set[str] = set()
    scratch: list[str] = []
    boundary = set()
    ordered_commits = []
    for oid in commits:
        commit = parse_commit(odb.read_kind(oid, "commit"))
        ordered_commits.append((oid, commit))
        boundary.update(p for p in commit.parents if p in uninteresting)
    for oid in boundary:
        tree_walk(odb, parse_commit(odb.read_kind(oid, "commit")).tree, exclude, scratch, set())

    seen: set[str] = set()
    order: list[str] = [oid for oid, _ in ordered_commits] + tags
    for _, commit in ordered_commits:
        tree_walk(odb, commit.tree, seen, order, exclude)
    for oid in others:
        kind, _ = odb.read(oid)
        if kind == "tree":
            tree_walk(odb, oid, seen, order, exclude)
        elif oid not in seen and oid not in exclude:
            seen.add(oid)
            order.append(oid)
    return list(dict.fromkeys(order))


def is_ancestor(odb, old: str, new: str) -> bool:
    """True when ``old`` is reachable from ``new``: updating ``old`` to ``new`` is a fast-forward."""
    if old == new:
        return True
    try:
        new_commit, _ = peel(odb, new)
        old_commit, _ = peel(odb, old)
    except ObjectMissing:
        return False
    return old_commit in ancestors(odb, [new_commit], skip_missing=True)


def walk_received(received: dict, tips: list[str]) -> tuple[set[str], set[str]]:
    """(received objects reachable from ``tips``, outside objects they point at).

    The walk descends only through newly received objects: anything already
    stored is assumed complete, as git assumes of its own object store.
    """
    inside: set[str] = set()
    outside: set[str] = set()
    stack = [tip for tip in tips if tip != ZERO_OID]
    while stack:
        oid = stack.pop()
        if oid in inside or oid in outside:
            continue
        if oid not in received:
            outside.add(oid)
            continue
        inside.add(oid)
        kind, data = received[oid]
        if kind == "commit":
            commit = parse_commit(data)
            stack.extend([commit.tree, *commit.parents])
        elif kind == "tree":
            stack.extend(e.oid for e in parse_tree(data) if e.mode != "160000")
        elif kind == "tag":
            stack.append(parse_tag(data).object)
    return inside, outside


def missing_objects(store, received: dict, tips: list[str]) -> list[str]:
    """Objects that ``tips`` need but neither ``received`` nor the store has (push connectivity)."""
    return sorted(oid for oid in walk_received(received, tips)[1] if not store.contains(oid))
