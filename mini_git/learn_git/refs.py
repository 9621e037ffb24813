"""References: names for commits (``refs/heads/main``, ``refs/tags/v1``, ``HEAD``).

Reading order: after ``odb.py``.  A ref is a file holding 40 hex digits and a
newline, or a *symbolic* ref holding ``ref: <other ref>`` (that is what HEAD
usually is).  Refs may also sit in ``packed-refs`` (one ``<oid> <name>`` per
line, ``^<oid>`` after an annotated tag gives what it peels to); a loose file
wins over a packed line of the same name.

Updates follow git's lock protocol: create ``<ref>.lock`` exclusively (a second
writer fails instead of racing), check that the ref still holds the value we
expect, write the lock file, rename it over the ref.  A reflog line is appended
to ``logs/<ref>`` when a message is given (``git stash list`` reads one).

Worktrees: a linked worktree's git dir (``.git/worktrees/<name>``) has its own
HEAD and pseudo-refs; everything under ``refs/`` lives in the common dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError, RefConflict

ANY = ...  # expected_old=ANY: update whatever the ref holds now
ZERO_OID = "0" * 40
PER_WORKTREE_PREFIXES = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")


def common_dir(git_dir: Path) -> Path:
    """The shared git dir of a linked worktree (``commondir`` file), else ``git_dir`` itself."""
    pointer = Path(git_dir) / "commondir"
    if pointer.is_file():
        return (Path(git_dir) / pointer.read_text().strip()).resolve()
    return Path(git_dir)


def check_ref_name(name: str) -> str:
    """Refuse names that could escape ``.git`` or that git would reject."""
    parts = name.split("/")
    pseudo = len(parts) == 1 and name.replace("_", "").isalpha() and name.isupper()
    bad = (not (name.startswith("refs/") or pseudo) or any(p in ("", ".", "..") or p.startswith(".")
           or p.endswith(".lock") for p in parts) or any(c in name for c in " ~^:?*[\\\0\n\t")
           or ".." in name or "@{" in name or name.endswith("."))
    if bad:
        raise GitError(f"'{name}' is not a valid ref name")
    return name


def ref_path(git_dir: Path, name: str) -> Path:
    check_ref_name(name)
    per_worktree = not name.startswith("refs/") or name.startswith(PER_WORKTREE_PREFIXES)
    return (Path(git_dir) if per_worktree else common_dir(git_dir)) / name


def read_packed_refs(git_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> oid, name -> peeled oid) from ``packed-refs``."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    path = common_dir(git_dir) / "packed-refs"
    if not path.is_file():
        return refs, peeled
    last = None
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("^") and last:
            peeled[last] = line[1:].strip()
            continue
        oid, _, name = line.partition(" ")
        refs[name] = oid
        last = name
    return refs, peeled


def read_raw(git_dir: Path, name: str) -> str | None:
    """The ref's stored value without following it: an oid, ``ref: ...``, or None."""
    path = ref_path(git_dir, name)
    if path.is_file():
        return path.read_text().strip()
    return read_packed_refs(git_dir)[0].get(name)


def resolve_symbolic(git_dir: Path, name: str) -> str:
    """Follow ``ref:`` pointers to the name of the ref that holds (or will hold) an oid."""
    for _ in range(5):
        raw = read_raw(git_dir, name)
        if raw is None or not raw.startswith("ref: "):
            return name
        name = raw[5:].strip()
    raise GitError(f"symbolic ref loop at {name}")


def branch_exists(git_dir: Path, name: str) -> bool:
    """Is ``refs/heads/<name>`` a branch?  (False for names that cannot be branches, like ``HEAD~2``.)"""
    try:
        return read_ref(git_dir, f"refs/heads/{name}") is not None
    except GitError:
        return False


def read_ref(git_dir: Path, name: str) -> str | None:
    """The oid ``name`` points at (following symbolic refs), or None if it does not exist."""
    raw = read_raw(git_dir, resolve_symbolic(git_dir, name))
    return raw if raw and not raw.startswith("ref: ") else None


def list_refs(git_dir: Path, prefix: str = "refs/") -> dict[str, str]:
    """Every ref under ``prefix`` (loose and packed), sorted by name, as name -> oid."""
    found = {n: o for n, o in read_packed_refs(git_dir)[0].items() if n.startswith(prefix)}
    base = common_dir(git_dir)
    root = base / "refs"
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and not path.name.endswith(".lock"):
                name = path.relative_to(base).as_posix()
                if name.startswith(prefix):
                    oid = read_ref(git_dir, name)
                    if oid:
                        found[name] = oid
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Head:
    """HEAD: ``ref`` is the branch it names (None when detached); ``oid`` None on an unborn branch."""

    ref: str | None
    oid: str | None

    @property
    def detached(self) -> bool:
        return self.ref is None

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref else None


def read_head(git_dir: Path) -> Head:
    raw = read_raw(git_dir, "HEAD")
    if raw is None:
        raise GitError(f"{git_dir} has no HEAD")
    if raw.startswith("ref: "):
        target = raw[5:].strip()
        return Head(target, read_ref(git_dir, target))
    return Head(None, raw)


def _write_locked(path: Path, content: str, check) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as exc:
        raise RefConflict(f"{lock} exists: another git process is updating this ref") from exc
    try:
        check()
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.replace(lock, path)
    except BaseException:
        lock.unlink(missing_ok=True)
        raise


def append_reflog(git_dir: Path, name: str, old: str | None, new: str, who: str, message: str) -> None:
    per_worktree = not name.startswith("refs/") or name.startswith(PER_WORKTREE_PREFIXES)
    path = (Path(git_dir) if per_worktree else common_dir(git_dir)) / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", errors="surrogateescape") as f:
        f.write(f"{old or ZERO_OID} {new} {who}\t{message.splitlines()[0] if message else ''}\n")


def update_ref(git_dir: Path, name: str, new_oid: str, expected_old=ANY, *, no_deref: bool = False,
               message: str | None = None, who: str | None = None) -> None:
    """Point ``name`` at ``new_oid`` atomically.

    ``expected_old``: ``ANY`` (no check), ``None`` (the ref must not exist yet) or an oid it must
    still hold; otherwise :class:`RefConflict`.  Through a symbolic ref (HEAD) the target is
    updated unless ``no_deref``.  ``message`` + ``who`` (a committer signature) add reflog lines.
    """
    target = name if no_deref else resolve_symbolic(git_dir, name)
    old = read_ref(git_dir, target) if not (no_deref and name == "HEAD") else read_head(git_dir).oid

    def check() -> None:
        if expected_old is not ANY and old != expected_old:
            raise RefConflict(f"{target} is at {old or '(nothing)'}, expected {expected_old or '(nothing)'}")

    _write_locked(ref_path(git_dir, target), new_oid + "\n", check)
    if message is not None and who is not None:
        append_reflog(git_dir, target, old, new_oid, who, message)
        if target != name:
            append_reflog(git_dir, name, old, new_oid, who, message)


def delete_ref(git_dir: Path, name: str, expected_old=ANY) -> None:
    """Remove ``name`` from loose refs and ``packed-refs`` (and its reflog)."""
    path = ref_path(git_dir, name)
    old = read_ref(git_dir, name)
    if old is None:
        raise GitError(f"ref {name} does not exist")
    if expected_old is not ANY and old != expected_old:
        raise RefConflict(f"{name} is at {old}, expected {expected_old}")
    packed = common_dir(git_dir) / "packed-refs"
    if name in read_packed_refs(git_dir)[0]:
        kept, skip = [], False
        for line in packed.read_text().splitlines(keepends=True):
            if skip and line.startswith("^"):
                continue
            skip = line.rstrip("\n").endswith(" " + name) and not line.startswith("#")
            if not skip:
                kept.append(line)
        _write_locked(packed, "".join(kept), lambda: None)
    path.unlink(missing_ok=True)
    log = common_dir(git_dir) / "logs" / name
    log.unlink(missing_ok=True)


def set_head_symbolic(git_dir: Path, target: str) -> None:
    """Make HEAD name a branch (``refs/heads/<b>``): what ``switch`` does."""
    check_ref_name(target)
    _write_locked(Path(git_dir) / "HEAD", f"ref: {target}\n", lambda: None)
