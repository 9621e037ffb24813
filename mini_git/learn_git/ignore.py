"""``.gitignore`` patterns (gitignore(5), the common subset), as pure matching.

Reading order: with ``workdir.py`` (``status`` and ``add`` skip ignored files).
Rules: ``#`` comments, ``!`` re-includes, a trailing ``/`` matches directories
only, a pattern with a ``/`` (other than at its end) is anchored to the
``.gitignore``'s directory, otherwise it matches a name at any depth; ``*``,
``?``, ``[...]`` and ``**`` work as in git.  The last matching pattern wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """One ignore line: a compiled ``regex``, ``!`` (``negate``), trailing ``/`` (``dir_only``)."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_patterns(text: str, base: str = "") -> list[Pattern]:
    """Patterns from one ignore file that lives in directory ``base`` ("" = the top)."""
    patterns = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        prefix = re.escape(base + "/") if base else ""
        body = _translate(line)
        regex = prefix + body if anchored else prefix + "(?:.*/)?" + body
        patterns.append(Pattern(re.compile(regex + r"\Z", re.DOTALL), negate, dir_only))
    return patterns


def is_ignored(patterns: list[Pattern], path: str, is_dir: bool) -> bool:
    """Whether ``path`` (slash-separated, relative to the top) is ignored; last match wins."""
    result = False
    for p in patterns:
        if p.dir_only and not is_dir:
            continue
        if p.regex.match(path):
            result = not p.negate
    return result
