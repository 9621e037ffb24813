"""A faster tree walk for serving clones, beside ``walk.tree_objects`` (the lesson).

Reading order: optional, after ``walk.py``.  A clone of the benchmark's repository
walks 6,380 trees holding 334,000 entries, and the plain walk turns each entry into a
``TreeEntry`` (mode normalised, name checked) only to read two things from it: is it a
tree, and what is its id.  :func:`tree_objects` reads those two straight from the tree's
bytes with regular expressions, in C: one checks that the whole body is a run of entries
in the form git writes them, one picks each entry's mode and id.  Anything else -- a mode
written with a leading zero, an odd name, a body the pattern does not cover end to end
-- goes through ``objects.parse_tree``, so a damaged tree fails exactly as it does in
the lesson.  What it reads is kept per tree id (:data:`LINKS`): trees never change, so a
later clone or fetch reuses it, as the server already reuses the resolved pack.
``upload_pack.py`` and ``upload_pack_v2.py`` (the server's clone and fetch answers) use it;
``tests/mini_git/test_net_walk_fast.py`` requires both walks to give the same object
list, in the same order.
"""

from __future__ import annotations

import re

from ..objects import parse_tree

# One entry as git writes it: a mode in git's own spelling, a space, a name (no "/") up to
# its NUL, the 20-byte id.  A body that is a run of these, start to end, parses one way only.
MODES = rb"(?:100644|100755|120000|40000|160000)"
ENTRIES = re.compile(rb"(?:" + MODES + rb" [^\0/]+\0.{20})*", re.DOTALL)
FIELDS = re.compile(rb"(" + MODES + rb") [^\0/]+\0(.{20})", re.DOTALL)
DOT_NAME = re.compile(rb" \.\.?\0")  # "." or "..": may also match inside an id (then: the lesson)
TREE, SUBMODULE = b"40000", b"160000"


def links(data: bytes) -> tuple[list[str], list[str]]:
    """(subtree ids, other ids) of a tree body, each in stored order, submodules left out."""
    if ENTRIES.fullmatch(data) and not DOT_NAME.search(data):
        fields = FIELDS.findall(data)
        return ([raw.hex() for mode, raw in fields if mode == TREE],
                [raw.hex() for mode, raw in fields if mode != TREE and mode != SUBMODULE])
    # The lesson's parser: it normalises what it can and raises CorruptObject for the rest.
    entries = [e for e in parse_tree(data) if e.mode != "160000"]
    return [e.oid for e in entries if e.is_tree], [e.oid for e in entries if not e.is_tree]


# tree id -> links(its body).  An id names its content, so an entry can never go stale: like
# the resolved packs (pack_stream.ResolvedPacks), the next clone finds its trees read already.
# Bounded: emptied when it holds LINKS_LIMIT trees.
LINKS: dict[str, tuple[list[str], list[str]]] = {}
LINKS_LIMIT = 20_000


def tree_links(odb, oid: str) -> tuple[list[str], list[str]]:
    found = LINKS.get(oid)
    if found is None:
        found = links(odb.read_kind(oid, "tree"))
        if len(LINKS) >= LINKS_LIMIT:
            LINKS.clear()
        LINKS[oid] = found
    return found


def tree_objects(odb, tree: str, into: set[str], order: list[str], exclude: set[str]) -> None:
    """``walk.tree_objects``, reading each tree with :func:`links` (once: :data:`LINKS`)."""
    stack = [tree]
    while stack:
        oid = stack.pop()
        if oid in into or oid in exclude:
            continue
        into.add(oid)
        order.append(oid)
        trees, others = tree_links(odb, oid)
        stack.extend(trees)  # as the lesson pushes them, in stored order
        for child in others:
            if child not in into and child not in exclude:
                into.add(child)
                order.append(child)
