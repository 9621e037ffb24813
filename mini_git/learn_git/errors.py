"""The errors mini_git raises, one class per thing that can go wrong.

Reading order: glance at it first; every other module raises these.  Each one
is a :class:`GitError`, so the CLI can print ``fatal: <message>`` and exit 128
the way git does, without a traceback.
"""

from __future__ import annotations


class GitError(Exception):
    """Base class: something the user (or a damaged repository) must fix."""

    exit_code = 128  # git's code for "fatal:"
    prefix = "fatal"


class ObjectMissing(GitError):
    """An object id was asked for that is neither loose nor in any pack."""


class CorruptObject(GitError):
    """Bytes that should be an object are not: bad zlib, bad header, wrong size or hash."""


class RefConflict(GitError):
    """A ref changed under us (old-value check failed) or is locked by someone else."""


class UnsafePath(GitError):
    """A path that would escape the work tree or touch ``.git`` (from a tree or the command line)."""


class IndexFormatError(GitError):
    """The index file is damaged or uses a version/extension mini_git does not handle."""


class NotARepository(GitError):
    """No ``.git`` directory (or ``.git`` file) was found from the given path upwards."""


class LocalChanges(GitError):
    """A checkout, merge or reset would overwrite changes that are not committed."""

    exit_code = 1  # git reports these as "error:" and exits 1
    prefix = "error"


class MergeConflict(GitError):
    """A merge (or revert, rebase, stash pop) stopped with conflicts to resolve."""

    exit_code = 1
    prefix = "error"
