"""The command line: ``python -m learn_git <command> [options]``, named as git's commands.

Reading order: the entry point; each command's logic lives in ``commands/<name>.py``
(the core story) or ``next_steps/<name>.py`` (rebase, revert, stash, tag, worktree):
one small module per command, each with a ``register(subparsers)``.  The network
commands (clone, fetch, pull, push) come from part 2's ``network/cli_remote.py``.

Only the module of the command being run is imported: ``status`` must not pay
for loading the HTTP client the network commands use (start-up time is most of
what a small command costs in Python; a network command loads only
``cli_remote.py``).  ``--help`` loads them all.  ``status`` and ``clone`` run their
fast variants (``status_fast.py``, ``network/clone_fast.py``) unless ``--plain`` comes
before the command; the parser's help formatter skips an import (``startup.py``).

Errors a user can fix (:class:`GitError`) print ``fatal: ...`` and exit 128
(``error: ...`` and 1 for refused checkouts and conflicts), as git does; a
traceback means a bug in mini_git.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import GitError
from .startup import Parser

# command name -> module, in the order ``--help`` lists them: the core story in ``commands/``,
# the commands beyond it in ``next_steps/`` (README: "Next steps").
COMMANDS = {
    "init": "commands.init", "hash-object": "commands.plumbing", "cat-file": "commands.plumbing",
    "ls-tree": "commands.plumbing", "rev-parse": "commands.plumbing", "update-ref": "commands.plumbing",
    "show-ref": "commands.plumbing", "add": "commands.add", "rm": "commands.add",
    "commit": "commands.commit", "status": "commands.status", "log": "commands.log", "diff": "commands.diff",
    "branch": "commands.branch", "checkout": "commands.checkout", "switch": "commands.checkout",
    "merge": "commands.merge", "reset": "commands.reset",
    "rebase": "next_steps.rebase", "revert": "next_steps.revert", "stash": "next_steps.stash",
    "worktree": "next_steps.worktree", "tag": "next_steps.tag",
}
# The fast variant run instead, unless --plain: it answers the common case and falls back to
# the command above for the rest (status_fast.py says which cases).
FAST = {"status": "status_fast"}
# Registered by part 2's network/cli_remote.py (clone also has a fast variant: clone_fast.py).
NETWORK = ("clone", "fetch", "pull", "push")


def build_parser(command: str | None = None, plain: bool = False) -> argparse.ArgumentParser:
    """The parser for ``command`` only, or for every command when None.

    ``plain``: register the lesson's module even where a fast variant exists (``FAST``).
    """
    parser = Parser(prog="python -m learn_git",
                    description="mini_git: a small git, byte-compatible with real git")
    # dest "chdir": "directory" is init's positional argument (git init DIR); sharing the name
    # made `init DIR` chdir into DIR before creating it.
    parser.add_argument("-C", dest="chdir", default=None, help="run as if started in this directory")
    parser.add_argument("--plain", action="store_true",
                        help="run the plain (lesson) version of a command that has a fast variant "
                             "(status, clone)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    if command in COMMANDS:
        modules = [COMMANDS[command] if plain else FAST.get(command, COMMANDS[command])]
    elif command in NETWORK:
        modules = []   # a clone need not import every local command
    else:
        modules = list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(f"learn_git.{name}").register(subparsers)
    if command not in COMMANDS:
        from .network import cli_remote  # clone, fetch, pull, push (part 2)
        cli_remote.register(subparsers)
    return parser


def find_command(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "-C":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    command = find_command(args_list)
    before = args_list[:args_list.index(command)] if command in args_list else args_list
    args = build_parser(command, plain="--plain" in before).parse_args(args_list)
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as exc:  # git's words and status for a bad -C
            print(f"fatal: cannot change to '{args.chdir}': {exc.strerror}", file=sys.stderr)
            return _exit(128, argv)
    try:
        code = args.func(args) or 0
    except GitError as exc:
        print(f"{exc.prefix}: {exc}", file=sys.stderr)
        code = exc.exit_code
    except BrokenPipeError:
        code = 0
    sys.stdout.flush()
    return _exit(code, argv)


def _exit(code: int, argv: list[str] | None) -> int:
    """Exit with ``code`` when run as a program; return it when called (tests)."""
    if argv is None:
        sys.exit(code)
    return code
