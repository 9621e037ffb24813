"""How wirelab programs fail: a message that says what to do, and an exit code.

Every demo, server and client ends through :func:`run_main`:

- exit 0: everything the program checked was right;
- exit 1: the program ran but saw something wrong (a failed check);
- exit 2: the machine is not set up for it (:class:`SetupError`: a port is busy,
  ``redis-server`` is missing, ...), with a hint that says how to fix it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable


class SetupError(Exception):
    """The environment is missing something; ``hint`` tells the user what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n  what to do: {self.hint}" if self.hint else text


class CheckFailed(Exception):
    """A demo or client saw something other than what it expected."""


def check(condition: object, message: str) -> None:
    """Raise :class:`CheckFailed` unless ``condition`` holds (demos verify what they saw)."""
    if not condition:
        raise CheckFailed(message)


def require_binary(name: str, hint: str) -> str:
    """Return the path of ``name`` on PATH, or raise SetupError with ``hint``."""
    path = shutil.which(name)
    if path is None:
        raise SetupError(f"{name} not found on PATH", hint)
    return path


def run_main(main: Callable[[], Awaitable[object]] | Callable[[], object]) -> None:
    """Run ``main`` (sync or async), mapping failures to exit codes 1 and 2."""
    try:
        result = main()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
