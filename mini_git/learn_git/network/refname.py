"""Which ref names are allowed: the rules of ``git check-ref-format``.

Reading order: a small helper read with ``receive_pack.py``, which refuses a
push to a bad name before it touches anything.  Spec: git-check-ref-format(1)
(the numbered rules below follow its list).

The rules exist because a ref name is also a file path under ``.git/`` and a
piece of revision syntax (``main~2``, ``v1^{}``, ``@{upstream}``): a name that
breaks them would be ambiguous or would escape the refs directory.
"""

from __future__ import annotations

FORBIDDEN_CHARS = set(" ~^:?*[\\")


def refname_problem(name: str, allow_onelevel: bool = False) -> str | None:
    """Why ``name`` is not a valid ref name, or None when it is."""
    if not name:
        return "empty name"
    if name == "@":
        return "is the single character '@' (rule 9)"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "begins or ends with '/' or contains '//' (rule 6)"
    if "/" not in name and not allow_onelevel:
        return "has no '/' (rule 2: at least two components, like refs/heads/x)"
    if name.endswith("."):
        return "ends with '.' (rule 7)"
    if ".." in name:
        return "contains '..' (rule 3)"
    if "@{" in name:
        return "contains '@{' (rule 8)"
    for char in name:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "contains a control character (rule 4)"
        if char in FORBIDDEN_CHARS:
            return f"contains {char!r} (rules 4, 5 and 10)"
    for component in name.split("/"):
        if component.startswith("."):
            return f"component {component!r} begins with '.' (rule 1)"
        if component.endswith(".lock"):
            return f"component {component!r} ends with '.lock' (rule 1)"
    return None


def check_refname(name: str, allow_onelevel: bool = False) -> bool:
    """True when ``git check-ref-format`` would accept ``name``."""
    return refname_problem(name, allow_onelevel) is None


def push_target_problem(name: str) -> str | None:
    """Why a push may not update ``name``: it must be a valid name under ``refs/``."""
    problem = refname_problem(name)
    if problem is not None:
        return f"invalid ref name: {problem}"
    if not name.startswith("refs/"):
        return "funny refname: pushes may only update names under refs/"
    return None
