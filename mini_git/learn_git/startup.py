"""A start-up saving for every command, kept out of the lesson: argparse without ``shutil``.

Reading order: optional, with ``status_fast.py``; ``cli.py`` builds its parser
with :class:`Parser`, which behaves exactly as ``argparse.ArgumentParser``.
argparse makes a help formatter for every ``add_argument`` (to check the
metavar), and its default one imports ``shutil`` -- and with it ``bz2`` and
``lzma`` -- just to learn the terminal width: a few milliseconds on every
command, for help text that is almost never printed.
"""

from __future__ import annotations

import argparse
import os
import sys


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's own help formatter, at the width ``shutil.get_terminal_size`` would give.

    argparse makes a formatter for every ``add_argument`` (to check the metavar), and its default
    one imports ``shutil`` -- and with it bz2 and lzma -- just to learn the terminal width: a few
    milliseconds on every command, for help text that is almost never printed.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return argparse.HelpFormatter(prog, width=columns - 2)  # as argparse's default: 2 columns spare


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` using :func:`help_formatter`; its subcommand parsers are Parsers too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", help_formatter)
        super().__init__(*args, **kwargs)
