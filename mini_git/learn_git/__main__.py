"""``python -m learn_git <command>``: hands over to :mod:`learn_git.cli`."""

from .cli import main

main()
