"""``add``: copy files from the work tree into the object store and the index.

Each path becomes a blob (``odb.write``) and an index entry holding the blob's
id plus the file's stat data.  A directory adds everything under it that is
not ignored, and drops entries whose files are gone (git 2.x's ``add <dir>``
stages removals too).  A file whose stat data still matches its entry is not
read again, which is what keeps ``add .`` on a large tree fast.  ``rm`` is here
as well: it is the same index edit in reverse.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GitError
from ..index import IndexEntry, entry_from_stat, stat_matches
from ..porcelain import load_index, save_index
from ..repo import Repository
from ..workdir import full_path, read_content, remove_file, scan


def register(sub) -> None:
    p = sub.add_parser("add", help="stage files (new, changed or removed)")
    p.add_argument("-A", "--all", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("paths", nargs="*")
    p.set_defaults(func=run)
    p = sub.add_parser("rm", help="remove files from the work tree and the index")
    p.add_argument("--cached", action="store_true")
    p.add_argument("-r", dest="recursive", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=run_rm)


def under(path: str, prefix: str) -> bool:
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def add_paths(repo, rel_paths: list[str], verbose: bool = False) -> None:
    """Stage ``rel_paths`` (work-tree-relative; "" = everything)."""
    work_tree = repo.require_work_tree()
    entries = {(e.path, e.stage): e for e in load_index(repo)}
    index_mtime = repo.index_path.stat().st_mtime_ns if repo.index_path.exists() else 0
    wanted: dict[str, object] = {}
    for rel in rel_paths:
        target = work_tree / rel if rel else work_tree
        if target.is_dir() and not target.is_symlink():
            found = dict(scan(work_tree, repo.git_dir, rel))
            wanted.update(found)
            gone = [k for k in entries if under(k[0], rel) and k[0] not in found]
        elif target.is_symlink() or target.exists():
            wanted[rel] = target.lstat()
            gone = []
        else:
            gone = [k for k in entries if under(k[0], rel)]
            if not gone:
                raise GitError(f"pathspec '{rel}' did not match any files")
        for key in gone:
            del entries[key]
            if verbose:
                print(f"remove '{key[0]}'")
    # Directories that hold staged files: a new file with one of these names replaces them.
    dirs = {e[0][:i] for e in entries for i, c in enumerate(e[0]) if c == "/"}
    checked_dirs: set[str] = set()  # directories full_path found not to be symlinks
    for path, st in sorted(wanted.items()):
        old = entries.get((path, 0))
        racy = old is not None and old.mtime_s * 1_000_000_000 + old.mtime_ns >= index_mtime
        if old is not None and stat_matches(old, st) and not racy:
            continue
        data = read_content(full_path(work_tree, path, checked_dirs), st)
        oid = repo.odb.write("blob", data)
        for stage in (1, 2, 3):  # staging a conflicted path marks it resolved
            entries.pop((path, stage), None)
        # A file replaces a directory of the same name, and the other way round.
        if path in dirs:
            for key in [k for k in entries if k[0].startswith(path + "/")]:
                del entries[key]
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.pop(("/".join(parts[:i]), 0), None)
        if verbose and (old is None or old.oid != oid):
            print(f"add '{path}'")
        entries[(path, 0)] = entry_from_stat(path, oid, st)
    save_index(repo, list(entries.values()))


def run(args) -> int:
    repo = Repository.discover()
    paths = [repo.relpath(p) for p in args.paths] if args.paths else []
    if args.all or not args.paths:
        if not args.all:
            print("Nothing specified, nothing added.")
            return 0
        paths = paths or [""]
    add_paths(repo, paths, args.verbose)
    return 0


def run_rm(args) -> int:
    repo = Repository.discover()
    work_tree = repo.require_work_tree()
    entries: list[IndexEntry] = load_index(repo)
    for raw in args.paths:
        rel = repo.relpath(Path(raw))
        matched = [e for e in entries if under(e.path, rel)]
        if not matched:
            raise GitError(f"pathspec '{raw}' did not match any files")
        if any(e.path != rel for e in matched) and not args.recursive:
            raise GitError(f"not removing '{raw}' recursively without -r")
        for e in matched:
            entries.remove(e)
            if not args.quiet:
                print(f"rm '{e.path}'")
            if not args.cached:
                remove_file(work_tree, e.path)
    save_index(repo, entries)
    return 0
