"""``.git/config``: git's INI-like settings file, read and written (small subset).

Reading order: with ``repo.py``.  Format (git-config(1), "CONFIGURATION FILE")::

    [core]
        bare = false
    [branch "main"]
        remote = origin

Keys are addressed as ``section.key`` or ``section.subsection.key``; section and
key names are case-insensitive, subsections are not.  ``layered_get`` reads a key
as git does for ``user.name``: the repository's file first, then the user's
``~/.gitconfig`` (or XDG) file, then the system's.  We keep the file's lines
when writing so comments and unknown settings survive.  Not handled: includes,
``\\`` continuation lines, multi-valued keys beyond "last one wins".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

_SECTION = re.compile(r'^\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*$')
_PAIR = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$")


def _split_key(key: str) -> tuple[str, str | None, str]:
    section, _, rest = key.partition(".")
    sub, _, name = rest.rpartition(".")
    return section.lower(), (sub or None), name.lower()


def _unquote(value: str) -> str:
    value = re.sub(r"\s[;#].*$", "", value) if '"' not in value else value
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_config(text: str) -> dict[str, str]:
    """All settings as ``section[.sub].key`` -> value (last one wins; bare keys mean "true")."""
    values: dict[str, str] = {}
    section: tuple[str, str | None] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        m = _SECTION.match(line)
        if m:
            name, sub = m.group(1).lower(), m.group(2)
            if sub is None and "." in name:  # old-style [section.sub]
                name, sub = name.split(".", 1)
            section = (name, sub)
            continue
        m = _PAIR.match(line)
        if m and section:
            full = ".".join(p for p in (section[0], section[1], m.group(1).lower()) if p is not None)
            values[full] = "true" if m.group(2) is None else _unquote(m.group(2))
    return values


def user_config_files(env: Mapping[str, str]) -> list[Path]:
    """The files git reads before the repository's own config, lowest priority first:
    the system file (unless ``GIT_CONFIG_NOSYSTEM``), then the user's -- ``GIT_CONFIG_GLOBAL``
    if set, else ``$XDG_CONFIG_HOME/git/config`` and ``~/.gitconfig`` (git-config(1), FILES)."""
    files = [] if env.get("GIT_CONFIG_NOSYSTEM") else [Path("/etc/gitconfig")]
    if env.get("GIT_CONFIG_GLOBAL"):
        return files + [Path(env["GIT_CONFIG_GLOBAL"])]
    home = Path(env.get("HOME", "~")).expanduser()
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return files + [xdg / "git" / "config", home / ".gitconfig"]


def layered_get(repo_config: Config, env: Mapping[str, str]) -> Callable[[str], str | None]:
    """``get`` over the repository's config, then the user's and the system's files: the
    first file (in git's priority order) that sets the key wins."""

    def get(key: str) -> str | None:
        value = repo_config.get(key)
        for path in reversed(user_config_files(env)):
            if value is not None:
                break
            value = Config(path).get(key)
        return value

    return get


class Config:
    """One config file: ``get``, ``get_bool``, ``set`` (rewrites the file atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _text(self) -> str:
        return self.path.read_text() if self.path.is_file() else ""

    def get(self, key: str, default: str | None = None) -> str | None:
        section, sub, name = _split_key(key)
        full = ".".join(p for p in (section, sub, name) if p is not None)
        return parse_config(self._text()).get(full, default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        return default if value is None else value.lower() in ("true", "yes", "on", "1")

    def set(self, key: str, value: str) -> None:
        section, sub, name = _split_key(key)
        lines = self._text().splitlines()
        header = f'[{section} "{sub}"]' if sub else f"[{section}]"
        at = None
        current: tuple[str, str | None] | None = None
        for i, line in enumerate(lines):
            m = _SECTION.match(line)
            if m:
                current = (m.group(1).lower(), m.group(2))
            elif current == (section, sub):
                pm = _PAIR.match(line)
                if pm and pm.group(1).lower() == name:
                    lines[i] = f"\t{name} = {value}"
                    break
                at = i
            if current == (section, sub) and m:
                at = i
        else:
            if at is None:
                lines += [header, f"\t{name} = {value}"]
            else:
                lines.insert(at + 1, f"\t{name} = {value}")
        tmp = self.path.with_name(self.path.name + ".lock")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.path)

    def remove_section(self, section: str, sub: str | None = None) -> None:
        out, skipping = [], False
        for line in self._text().splitlines():
            m = _SECTION.match(line)
            if m:
                skipping = (m.group(1).lower(), m.group(2)) == (section, sub)
            if not skipping:
                out.append(line)
        self.path.write_text("\n".join(out) + "\n")
