"""``log``: walk the history from HEAD (or a named commit) and print it as git does.

The walk itself is ``history.walk``: newest committer date first.  ``--first-parent``
follows only the first parent of merges (the branch's own line of work);
``--oneline`` prints ``<abbrev> <subject>``; ``--format`` knows a few of git's
placeholders (%H %h %T %P %s %b %an %ae %cn %ce).
"""

from __future__ import annotations

import sys

from ..history import walk
from ..identity import format_date
from ..objects import Commit, parse_signature
from ..porcelain import abbrev, head_oid, subject
from ..repo import Repository
from ..revision import resolve_commit


def register(sub) -> None:
    p = sub.add_parser("log", help="show commit history")
    p.add_argument("--oneline", action="store_true")
    p.add_argument("--first-parent", action="store_true")
    p.add_argument("-n", "--max-count", type=int, default=None)
    p.add_argument("--format", "--pretty", dest="format", default=None)
    p.add_argument("revisions", nargs="*")
    p.set_defaults(func=run)


def format_placeholders(fmt: str, oid: str, c: Commit) -> str:
    author, committer = parse_signature(c.author), parse_signature(c.committer)
    body = c.message.split("\n\n", 1)[1] if "\n\n" in c.message else ""
    values = {"H": oid, "h": abbrev(oid), "T": c.tree, "P": " ".join(c.parents), "s": subject(c.message),
              "b": body, "an": author.name, "ae": author.email, "cn": committer.name, "ce": committer.email,
              "n": "\n", "%": "%"}
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            key = next((k for k in ("an", "ae", "cn", "ce") if fmt.startswith(k, i + 1)), fmt[i + 1:i + 2])
            if key in values:
                out.append(values[key])
                i += 1 + len(key)
                continue
        out.append(fmt[i])
        i += 1
    return "".join(out)


def format_medium(oid: str, c: Commit) -> str:
    author = parse_signature(c.author)
    lines = [f"commit {oid}"]
    if len(c.parents) > 1:
        lines.append("Merge: " + " ".join(abbrev(p) for p in c.parents))
    lines += [f"Author: {author.name} <{author.email}>", f"Date:   {format_date(author.when, author.tz)}", ""]
    lines += [f"    {line}" for line in c.message.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    repo = Repository.discover()
    starts = [resolve_commit(repo, r) for r in args.revisions] or [head_oid(repo)]
    if starts == [None]:
        print("fatal: your current branch does not have any commits yet", file=sys.stderr)
        return 128
    fmt = args.format
    if fmt and fmt.startswith(("format:", "tformat:")):
        fmt = fmt.split(":", 1)[1]
    out = []
    for count, (oid, c) in enumerate(walk(repo, starts, args.first_parent)):
        if args.max_count is not None and count >= args.max_count:
            break
        if args.oneline:
            out.append(f"{abbrev(oid)} {subject(c.message)}\n")
        elif fmt == "oneline":
            out.append(f"{oid} {subject(c.message)}\n")
        elif fmt:
            out.append(format_placeholders(fmt, oid, c) + "\n")
        else:
            out.append(("\n" if out else "") + format_medium(oid, c))
    sys.stdout.buffer.write("".join(out).encode("utf-8", "surrogateescape"))
    return 0
