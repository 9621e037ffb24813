r"""Path safety: a path from a tree object or the command line must stay inside the work tree.

Reading order: before the commands that write files.  Trees come from other
people (a clone, a fetch), so a tree entry named ``..`` or ``.git`` (or a path
``a/../../etc``) must never become a file outside the work tree or inside the
repository's own ``.git``.  git's fsck and checkout refuse the same names
(``verify_path`` in git's read-cache.c).  Pure functions, plus one that asks the
OS to resolve symlinks in a command-line path.

The rules are git's on Linux and other POSIX systems: only ``/`` separates
directories, so a backslash is an ordinary character: ``a\b`` is one file of
that name, which git stores (only git's Windows builds refuse it).  What git
refuses there, we refuse: an absolute path, an empty, ``.`` or ``..`` component,
``.git`` in any letter case, and -- because git's ``core.protectNTFS`` is on by
default on every platform, so that a repository stays safe to check out on
Windows -- the names NTFS would read as ``.git``: ``.git`` or its short name
``git~1`` followed only by dots and spaces, at the start of a component or right
after a backslash, ending the name or followed by ``/``, ``\`` or ``:``
(``.git.``, ``GIT~1``, ``a\.git``, ``.git::$INDEX_ALLOCATION``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import UnsafePath

# git's is_ntfs_dotgit: what NTFS resolves to ".git" (trailing dots and spaces are dropped, "::"
# names a stream, git~1 is the 8.3 short name), after a "/" or "\\" or at the start.  A string,
# compiled (and cached by ``re``) on first use: ``status`` imports this module but never checks.
_NTFS_DOTGIT = r"(?:^|[/\\])(?:\.git|git~1)[. ]*(?:$|[/\\:])"


def check_tree_path(path: str) -> str:
    """A slash-separated repository path: every component a plain name, none of them ``.git``."""
    if not path or path.startswith("/") or "\0" in path:
        raise UnsafePath(f"refusing unsafe path {path!r}")
    for part in path.split("/"):
        if part in ("", ".", "..") or part.lower() == ".git":
            raise UnsafePath(f"refusing unsafe path {path!r} (component {part!r})")
    if re.search(_NTFS_DOTGIT, path, re.IGNORECASE):
        raise UnsafePath(f"refusing unsafe path {path!r} (an NTFS alias of .git)")
    return path


def worktree_relative(work_tree: Path, path: Path) -> str:
    """``path`` (relative to the current directory, or absolute) as a path inside ``work_tree``.

    Returns "" for the work tree itself; raises :class:`UnsafePath` for anything outside it or
    inside ``.git``.
    """
    root = work_tree.resolve()
    absolute = Path(os.path.abspath(path))
    # Resolve the parent (symlinked directories) but not the last component: a symlink itself
    # is a legitimate file to add.
    full = absolute.parent.resolve() / absolute.name if absolute != root else root
    try:
        rel = full.relative_to(root)
    except ValueError:
        raise UnsafePath(f"'{path}' is outside repository at '{root}'") from None
    text = rel.as_posix()
    if text == ".":
        return ""
    check_tree_path(text)
    return text


def quote_path(path: str | bytes, quote_space: bool = False) -> str:
    """git's ``core.quotePath`` output: a path with bytes outside printable ASCII (or ``"``, ``\\``)
    is written in double quotes with C escapes and octal bytes, e.g. ``"\\303\\274.txt"``.

    ``quote_space``: also quote a name with a space (``status --short`` does, so that its
    ``old -> new`` rename lines stay parseable; the long format and diff headers do not).
    """
    raw = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    if all(32 <= b < 127 and b not in (34, 92) for b in raw) and not (quote_space and b" " in raw):
        return raw.decode("ascii")
    specials = {34: '\\"', 92: "\\\\", 9: "\\t", 10: "\\n", 13: "\\r",
                7: "\\a", 8: "\\b", 11: "\\v", 12: "\\f"}
    escaped = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else specials.get(b, f"\\{b:03o}")
                      for b in raw)
    return f'"{escaped}"'
