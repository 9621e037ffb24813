"""Plumbing: ``hash-object``, ``cat-file``, ``ls-tree``, ``rev-parse``, ``update-ref``, ``show-ref``.

These show the object model directly: what bytes a file becomes, what an id
holds, what a tree lists.  ``cat-file -p`` prints a tree the way git does:
``<mode, 6 digits> <kind> <id>\\t<name>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import GitError
from ..objects import KINDS, hash_object, parse_tree
from ..paths import quote_path
from ..refs import list_refs, update_ref
from ..repo import Repository
from ..revision import peel, rev_parse


def register(sub) -> None:
    p = sub.add_parser("hash-object", help="compute an object id, optionally store the object")
    p.add_argument("-w", dest="write", action="store_true")
    p.add_argument("-t", dest="kind", default="blob", choices=KINDS)
    p.add_argument("--stdin", action="store_true")
    p.add_argument("files", nargs="*")
    p.set_defaults(func=run_hash_object)
    p = sub.add_parser("cat-file", help="show an object's kind, size or content")
    g = p.add_mutually_exclusive_group()
    for flag in ("-t", "-s", "-p", "-e"):
        g.add_argument(flag, dest="mode", action="store_const", const=flag[1])
    p.add_argument("args", nargs="+", help="[<kind>] <object>")
    p.set_defaults(func=run_cat_file)
    p = sub.add_parser("ls-tree", help="list a tree's entries")
    p.add_argument("-r", dest="recursive", action="store_true")
    p.add_argument("-t", dest="show_trees", action="store_true")
    p.add_argument("--name-only", action="store_true")
    p.add_argument("treeish")
    p.set_defaults(func=run_ls_tree)
    p = sub.add_parser("rev-parse", help="print the object id a name resolves to")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=lambda a: [print(rev_parse(Repository.discover(), n)) for n in a.names] and 0)
    p = sub.add_parser("update-ref", help="point a ref at an object")
    p.add_argument("ref")
    p.add_argument("new")
    p.set_defaults(func=lambda a: update_ref(Repository.discover().git_dir, a.ref,
                                             rev_parse(Repository.discover(), a.new)) or 0)
    p = sub.add_parser("show-ref", help="list refs")
    p.set_defaults(func=run_show_ref)


def run_hash_object(args) -> int:
    inputs = [sys.stdin.buffer.read()] if args.stdin else [Path(f).read_bytes() for f in args.files]
    odb = Repository.discover().odb if args.write else None
    for data in inputs:
        print(odb.write(args.kind, data) if odb else hash_object(args.kind, data))
    return 0


def format_tree_entry(entry, kind: str, prefix: bytes = b"") -> bytes:
    return f"{entry.mode:0>6} {kind} {entry.oid}\t{quote_path(prefix + entry.name)}".encode()


def kind_of_mode(mode: str) -> str:
    return {"40000": "tree", "160000": "commit"}.get(mode, "blob")


def run_cat_file(args) -> int:
    repo = Repository.discover()
    if args.mode is None:
        if len(args.args) != 2:
            raise GitError("usage: cat-file (-t|-s|-p|-e) <object> | cat-file <kind> <object>")
        oid = peel(repo, rev_parse(repo, args.args[1]), args.args[0])
        sys.stdout.buffer.write(repo.odb.read(oid)[1])
        return 0
    spec = args.args[-1]
    if args.mode == "e":
        try:
            return 0 if repo.odb.contains(rev_parse(repo, spec)) else 1
        except GitError:
            return 1
    kind, body = repo.odb.read(rev_parse(repo, spec))
    out = sys.stdout.buffer
    if args.mode == "t":
        out.write(kind.encode() + b"\n")
    elif args.mode == "s":
        out.write(f"{len(body)}\n".encode())
    elif kind == "tree":
        for e in parse_tree(body):
            out.write(format_tree_entry(e, kind_of_mode(e.mode)) + b"\n")
    else:
        out.write(body)
    return 0


def walk_tree(repo, oid: str, recursive: bool, show_trees: bool, prefix: bytes = b""):
    """(entry, kind, path prefix) for ls-tree, depth first in stored order."""
    for e in parse_tree(repo.odb.read_kind(oid, "tree")):
        kind = kind_of_mode(e.mode)
        if kind == "tree" and recursive:
            if show_trees:
                yield e, kind, prefix
            yield from walk_tree(repo, e.oid, recursive, show_trees, prefix + e.name + b"/")
        else:
            yield e, kind, prefix


def run_ls_tree(args) -> int:
    repo = Repository.discover()
    tree = peel(repo, rev_parse(repo, args.treeish), "tree")
    out = sys.stdout.buffer
    for e, kind, prefix in walk_tree(repo, tree, args.recursive, args.show_trees):
        name = quote_path(prefix + e.name).encode()
        out.write((name if args.name_only else format_tree_entry(e, kind, prefix)) + b"\n")
    return 0


def run_show_ref(args) -> int:
    for name, oid in list_refs(Repository.discover().git_dir).items():
        print(oid, name)
    return 0
