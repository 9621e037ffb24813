"""``init``: create an empty repository (see ``Repository.init``)."""

from __future__ import annotations

from pathlib import Path

from ..repo import Repository


def register(sub) -> None:
    p = sub.add_parser("init", help="create an empty repository")
    p.add_argument("directory", nargs="?", default=".")
    p.add_argument("--bare", action="store_true")
    p.add_argument("-b", "--initial-branch", default="main")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    repo = Repository.init(Path(args.directory), bare=args.bare, initial_branch=args.initial_branch)
    if not args.quiet:
        print(f"Initialized empty Git repository in {repo.git_dir}/")
    return 0
