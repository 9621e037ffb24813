"""Naming objects: ``HEAD``, ``main``, ``v1.0``, ``a1b2c3``, ``HEAD~2``, ``main^2``, ``v1^{tree}``.

Reading order: with the commands (gitrevisions(7), a small subset).  A name is
tried as a full or abbreviated object id, then as ``<name>``, ``refs/<name>``,
``refs/tags/<name>``, ``refs/heads/<name>``, ``refs/remotes/<name>`` in git's
order; ``~n`` follows first parents, ``^n`` picks the n-th parent, ``^{type}``
peels tags (and commits to trees), ``stash@{n}`` reads the stash reflog.
"""

from __future__ import annotations

import re

from .errors import GitError, ObjectMissing
from .objects import parse_commit, parse_tag
from .refs import common_dir, read_ref

_SUFFIX = re.compile(r"(~\d*|\^\{\w*\}|\^\d*)$")


def expand_abbrev(repo, prefix: str) -> str | None:
    """The one object id starting with ``prefix`` (4+ hex digits), None if none, error if ambiguous."""
    prefix = prefix.lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
        return None
    if len(prefix) == 40:
        return prefix if repo.odb.contains(prefix) else None
    found = set()
    sub = repo.odb.objects_dir / prefix[:2]
    if sub.is_dir():
        found.update(prefix[:2] + f.name for f in sub.iterdir() if (prefix[:2] + f.name).startswith(prefix))
    for pack in repo.odb.packs:
        found.update(o for o in pack.index if o.startswith(prefix))
    if len(found) > 1:
        raise GitError(f"short object ID {prefix} is ambiguous")
    return found.pop() if found else None


def resolve_ref_name(repo, name: str) -> str | None:
    if name == "@":
        name = "HEAD"
    m = re.fullmatch(r"(.+)@\{(\d+)\}", name)
    if m:
        return reflog_entry(repo, m.group(1), int(m.group(2)))
    for candidate in (name, f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}",
                      f"refs/remotes/{name}", f"refs/remotes/{name}/HEAD"):
        try:
            oid = read_ref(repo.git_dir, candidate)
        except GitError:
            continue
        if oid:
            return oid
    return None


def reflog_entry(repo, name: str, n: int) -> str | None:
    ref = "refs/stash" if name in ("stash", "refs/stash") else name
    path = (repo.git_dir if not ref.startswith("refs/") else common_dir(repo.git_dir)) / "logs" / ref
    if not path.is_file():
        return None
    lines = path.read_text(errors="surrogateescape").splitlines()
    if n >= len(lines):
        return None
    return lines[len(lines) - 1 - n].split(" ")[1]


def peel(repo, oid: str, want: str) -> str:
    """Follow tags (and commit -> tree) until an object of kind ``want`` ("" = any non-tag)."""
    while True:
        kind, body = repo.odb.read(oid)
        if kind == want or (want == "" and kind != "tag"):
            return oid
        if kind == "tag":
            oid = parse_tag(body).object
        elif kind == "commit" and want == "tree":
            oid = parse_commit(body).tree
        else:
            raise GitError(f"{oid} is a {kind}, not a {want}")


def rev_parse(repo, spec: str) -> str:
    """The object id ``spec`` names, or :class:`GitError` saying it names nothing."""
    m = _SUFFIX.search(spec)
    if m and m.start() > 0:
        base = rev_parse(repo, spec[:m.start()])
        suffix = m.group(1)
        if suffix.startswith("^{"):
            return peel(repo, base, suffix[2:-1])
        count = int(suffix[1:] or 1)
        commit = peel(repo, base, "commit")
        if suffix[0] == "~":
            for _ in range(count):
                parents = parse_commit(repo.odb.read_kind(commit, "commit")).parents
                if not parents:
                    raise GitError(f"{spec}: not that many ancestors")
                commit = parents[0]
            return commit
        if count == 0:
            return commit
        parents = parse_commit(repo.odb.read_kind(commit, "commit")).parents
        if count > len(parents):
            raise GitError(f"{spec}: commit has {len(parents)} parent(s)")
        return parents[count - 1]
    oid = resolve_ref_name(repo, spec)
    if oid is None:
        try:
            oid = expand_abbrev(repo, spec)
        except ObjectMissing:
            oid = None
    if oid is None:
        raise GitError(f"ambiguous argument '{spec}': unknown revision or path not in the working tree")
    return oid


def resolve_commit(repo, spec: str) -> str:
    return peel(repo, rev_parse(repo, spec), "commit")
