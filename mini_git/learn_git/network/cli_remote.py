"""The network commands of ``python -m learn_git``: clone, fetch, pull, push.

Reading order: the last file of the client side; ``cli.py`` (part 1) calls
:func:`register` so these appear beside the local commands.  Each command is
a thin wrapper: parse arguments, call ``remote.py``/``remote_push.py``, print
what git would print.  ``-v`` traces every request and pkt-line (``>`` sent,
``<`` received, ``=`` state); without it only the outcome is printed.
"""

from __future__ import annotations

import io
import sys

from wirelab_common.wiretrace import Trace

from ..repo import Repository

# The protocol modules (and httpx under them) are imported inside each command, so that
# building the parser for ``--help`` or a local command does not pay for them.


def make_trace(args) -> Trace:
    # Without -v the trace is kept out of sight; the commands print their own outcome.
    return Trace("client", verbose=True) if args.verbose else Trace("client", stream=io.StringIO())


def cmd_clone(args) -> int:
    if getattr(args, "plain", False):    # python -m learn_git --plain clone: the lesson alone
        from .remote import clone
    else:
        from .clone_fast import clone  # the default: the pack kept as received (clone_fast.py)
    repo = clone(args.url, args.target, make_trace(args), checkout=not args.no_checkout)
    print(f"cloned into {repo.work_tree}")
    return 0


def cmd_fetch(args) -> int:
    from .remote import fetch
    repo = Repository.discover(".")
    result = fetch(repo, args.remote, make_trace(args))
    for name, old, new in result.updated:
        print(f"   {(old or '0000000')[:7]}..{new[:7]}  {name}")
    if not result.updated:
        print("Already up to date (nothing fetched)")
    return 0


def cmd_pull(args) -> int:
    from .remote import pull
    repo = Repository.discover(".")
    print(pull(repo, args.remote, make_trace(args)))
    return 0


def cmd_push(args) -> int:
    from .remote_push import push
    from .transport_http import split_credentials
    repo = Repository.discover(".")
    updates = push(repo, args.remote, args.refspec, make_trace(args), force=args.force, atomic=args.atomic)
    url = repo.config.get(f"remote.{args.remote}.url") or args.remote
    print(f"To {split_credentials(url)[0] if '://' in url else url}")   # never echo a password
    for update in updates:
        print(update.describe())
    if any(u.status not in ("ok", "up to date") for u in updates):
        print(f"error: failed to push some refs to '{args.remote}'", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    """Add clone/fetch/pull/push to the ``python -m learn_git`` argument parser."""
    p = subparsers.add_parser("clone", help="copy a repository over smart HTTP")
    p.add_argument("url", help="http://[user:password@]host:port/repo.git")
    # dest "target", shown as "directory" (the name git's usage line gives it)
    p.add_argument("target", nargs="?", metavar="directory")
    p.add_argument("-n", "--no-checkout", action="store_true", help="set HEAD but check nothing out")
    p.add_argument("-v", "--verbose", action="store_true", help="trace every request and pkt-line")
    p.set_defaults(func=cmd_clone)

    p = subparsers.add_parser("fetch", help="download new commits into refs/remotes/<remote>/")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_fetch)

    p = subparsers.add_parser("pull", help="fetch, then fast-forward the current branch (ff-only)")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_pull)

    p = subparsers.add_parser("push", help="send commits and update remote refs")
    p.add_argument("remote", nargs="?", default="origin", help="a remote name or a URL")
    p.add_argument("refspec", nargs="*", help="src[:dst]; ':dst' deletes; default: the current branch")
    p.add_argument("-f", "--force", action="store_true",
                   help="send a non-fast-forward update anyway (the server still decides)")
    p.add_argument("--atomic", action="store_true", help="all refs are updated, or none")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_push)
