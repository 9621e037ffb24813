"""``python -m learn_git <command>``: hands over to :mod:`learn_git.cli`.

A bare ``status`` (or ``status --porcelain``) is tried first without the command-line
parser: ``status_fast.quick`` answers the common case and leaves the rest to ``cli.py``.
"""

import sys

if sys.argv[1:2] == ["status"]:
    from .status_fast import quick

    code = quick(sys.argv[1:])
    if code is not None:
        sys.exit(code)

from .cli import main  # noqa: E402  (only when the quick status did not answer)

main()
