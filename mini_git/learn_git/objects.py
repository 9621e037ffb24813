"""Git's four object types as bytes: blob, tree, commit and tag (pure, no I/O).

Reading order: first.  Every object is stored as ``<kind> <size>\\0<body>`` and
named by the SHA-1 of exactly those bytes, so two programs that build the same
body compute the same id.  That is the whole trick behind git's integrity and
deduplication, and the reason this module must be byte-exact.

Formats (see Documentation/technical/... and ``git cat-file -p``):

- blob: the file's bytes, nothing else.
- tree: entries ``<mode> <name>\\0<20 raw id bytes>``, sorted as if a subtree's
  name ended in ``/``; the mode is octal ASCII without leading zeros
  (``100644``, ``100755``, ``120000`` symlink, ``40000`` tree, ``160000`` gitlink).
- commit / tag: RFC 822-like headers, one per line (continuation lines start
  with a space), a blank line, then the message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import CorruptObject

KINDS = ("blob", "tree", "commit", "tag")
# Modes a tree may hold, as written in the object (a tree is "40000", shown as "040000").
MODE_FILE, MODE_EXEC, MODE_LINK, MODE_TREE, MODE_GITLINK = "100644", "100755", "120000", "40000", "160000"
VALID_MODES = {MODE_FILE, MODE_EXEC, MODE_LINK, MODE_TREE, MODE_GITLINK}


def object_header(kind: str, size: int) -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown object kind {kind!r} (expected one of {', '.join(KINDS)})")
    return f"{kind} {size}\0".encode()


def hash_object(kind: str, data: bytes) -> str:
    """The object id (40 hex digits) git gives ``data`` stored as ``kind``."""
    sha = hashlib.sha1(object_header(kind, len(data)))
    sha.update(data)
    return sha.hexdigest()


def split_object(raw: bytes) -> tuple[str, bytes]:
    """``<kind> <size>\\0<body>`` -> (kind, body), checking the declared size."""
    nul = raw.find(b"\0", 0, 32)
    if nul < 0:
        raise CorruptObject("object header has no NUL within 32 bytes")
    try:
        kind_b, size_b = raw[:nul].split(b" ")
        kind, size = kind_b.decode("ascii"), int(size_b)
    except ValueError as exc:
        raise CorruptObject(f"bad object header {raw[:nul]!r}") from exc
    if kind not in KINDS:
        raise CorruptObject(f"unknown object kind {kind!r}")
    body = raw[nul + 1:]
    if len(body) != size:
        raise CorruptObject(f"{kind} declares {size} bytes but holds {len(body)}")
    return kind, body


# ---------------------------------------------------------------- trees

@dataclass(frozen=True)
class TreeEntry:
    """One line of a tree: ``mode`` as in the object ("100644", "40000"), raw ``name``, hex ``oid``."""

    mode: str
    name: bytes
    oid: str

    @property
    def is_tree(self) -> bool:
        return self.mode == MODE_TREE

    def sort_key(self) -> bytes:
        # git compares names as if a tree's name had a trailing "/" (base_name_compare).
        return self.name + b"/" if self.is_tree else self.name


def normalize_mode(mode: str | int) -> str:
    """Accept ``0o100644``, ``"040000"`` or ``"40000"``; return the form git writes in trees."""
    text = format(mode, "o") if isinstance(mode, int) else mode.lstrip("0")
    if text not in VALID_MODES:
        raise CorruptObject(f"invalid tree entry mode {mode!r}")
    return text


def check_entry_name(name: bytes) -> None:
    """A tree entry name is one path component: not empty, no ``/``, no NUL, not ``.``/``..``."""
    if not name or b"/" in name or b"\0" in name or name in (b".", b".."):
        raise CorruptObject(f"invalid tree entry name {name!r}")


def parse_tree(data: bytes) -> list[TreeEntry]:
    """Decode a tree body into entries, in stored order."""
    entries, pos = [], 0
    while pos < len(data):
        space = data.find(b" ", pos)
        nul = data.find(b"\0", space + 1)
        if space < 0 or nul < 0 or nul + 21 > len(data):
            raise CorruptObject(f"truncated tree entry at byte {pos}")
        mode = normalize_mode(data[pos:space].decode("ascii", "replace"))
        name = data[space + 1:nul]
        check_entry_name(name)
        entries.append(TreeEntry(mode, name, data[nul + 1:nul + 21].hex()))
        pos = nul + 21
    return entries


def serialize_tree(entries: list[TreeEntry]) -> bytes:
    """Encode entries in git's order; duplicate names are an error (fsck would reject them)."""
    rows = []
    for e in entries:
        mode = normalize_mode(e.mode)
        check_entry_name(e.name)
        # git compares names as if a tree's name had a trailing "/" (see TreeEntry.sort_key).
        rows.append((e.name + b"/" if mode == MODE_TREE else e.name, mode, e.name, e.oid))
    rows.sort()
    if len({name for _, _, name, _ in rows}) != len(rows):
        raise CorruptObject("duplicate tree entry names")
    return b"".join(mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid) for _, mode, name, oid in rows)


# ---------------------------------------------------------------- commits and tags

def _parse_headers(data: bytes) -> tuple[list[tuple[str, str]], str]:
    """Header lines (with continuations folded back in) and the message after the blank line."""
    text = data.decode("utf-8", "surrogateescape")
    head, sep, message = text.partition("\n\n")
    if not sep:  # a commit with no message at all still ends its headers with "\n"
        head, message = text.rstrip("\n"), ""
    headers: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line.startswith(" ") and headers:
            key, value = headers[-1]
            headers[-1] = (key, value + "\n" + line[1:])
        else:
            key, _, value = line.partition(" ")
            headers.append((key, value))
    return headers, message


def _format_headers(headers: list[tuple[str, str]], message: str) -> bytes:
    lines = [f"{key} {value.replace(chr(10), chr(10) + ' ')}" for key, value in headers]
    return ("\n".join(lines) + "\n\n" + message).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Commit:
    """A commit: a tree, its parents, who and when, the message, and any other headers kept in order.

    ``tree``: hex id; ``parents``: list of hex ids; ``author``/``committer``: signature text
    ("Name <email> 1700000000 +0100"); ``message``; ``extra_headers``: (key, value) pairs
    such as ``encoding``, ``gpgsig``, ``mergetag``, in stored order.
    """

    tree: str
    parents: list[str]
    author: str
    committer: str
    message: str
    extra_headers: list[tuple[str, str]] | tuple = ()


def parse_commit(data: bytes) -> Commit:
    headers, message = _parse_headers(data)
    values: dict[str, list[str]] = {}
    extra = []
    for key, value in headers:
        if key in ("tree", "parent", "author", "committer"):
            values.setdefault(key, []).append(value)
        else:
            extra.append((key, value))
    try:
        (tree,), (author,), (committer,) = values["tree"], values["author"], values["committer"]
    except (KeyError, ValueError) as exc:
        raise CorruptObject("commit lacks exactly one tree/author/committer header") from exc
    return Commit(tree, values.get("parent", []), author, committer, message, tuple(extra))


def serialize_commit(c: Commit) -> bytes:
    headers = [("tree", c.tree), *(("parent", p) for p in c.parents),
               ("author", c.author), ("committer", c.committer), *c.extra_headers]
    return _format_headers(headers, c.message)


@dataclass(frozen=True)
class Tag:
    """An annotated tag: points at ``object`` of kind ``type`` under the name ``tag``.

    ``tagger`` is a signature text or None (very old tags have none).
    """

    object: str
    type: str
    tag: str
    tagger: str | None
    message: str
    extra_headers: list[tuple[str, str]] | tuple = ()


def parse_tag(data: bytes) -> Tag:
    headers, message = _parse_headers(data)
    known = {k: v for k, v in headers if k in ("object", "type", "tag", "tagger")}
    if not {"object", "type", "tag"} <= known.keys():
        raise CorruptObject("tag lacks an object/type/tag header")
    extra = tuple((k, v) for k, v in headers if k not in known)
    return Tag(known["object"], known["type"], known["tag"], known.get("tagger"), message, extra)


def serialize_tag(t: Tag) -> bytes:
    headers = [("object", t.object), ("type", t.type), ("tag", t.tag)]
    if t.tagger is not None:
        headers.append(("tagger", t.tagger))
    return _format_headers(headers + list(t.extra_headers), t.message)


# ---------------------------------------------------------------- signatures

@dataclass(frozen=True)
class Signature:
    """``Name <email> <seconds since epoch> <+hhmm>``: who, and when in their time zone."""

    name: str
    email: str
    when: int
    tz: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> {self.when} {self.tz}"


def parse_signature(text: str) -> Signature:
    lt, gt = text.find("<"), text.rfind(">")
    if lt < 0 or gt < lt:
        raise CorruptObject(f"bad signature {text!r}")
    when, _, tz = text[gt + 1:].strip().partition(" ")
    return Signature(text[:lt].rstrip(), text[lt + 1:gt], int(when or 0), tz or "+0000")
