"""How wirelab programs fail: a message that says what to do, and an exit code.

Every demo, server and client ends through :func:`run_main`:

- exit 0: everything the program checked was right;
- exit 1: the program ran but saw something wrong (a failed check);
- exit 2: the machine is not set up for it (:class:`SetupError`: a port is busy,
  ``redis-server`` is missing, ...), with a hint that says how to fix it;
- exit 0 on SIGTERM, 130 on SIGINT (Ctrl-C): asked to stop, the program stops
  *cleanly*: its ``finally`` blocks run (a client prints its summary), and no
  traceback.  SIGTERM is how process managers (systemd, ``docker compose stop``)
  ask, and a clean stop on request is a success, as for redis-server or nginx.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any


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


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C (a KeyboardInterrupt, so asyncio lets it through)."""


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
    """Run ``main`` (sync or async), mapping failures to exit codes 1 and 2, SIGTERM to 0.

    SIGTERM cancels an async ``main`` as Ctrl-C does (``asyncio.run`` cancels its
    task), so its ``finally`` blocks run; in a sync ``main`` it raises
    :class:`Terminated` where the program is.  A program that installed its own
    SIGTERM handler (``loop.add_signal_handler``) keeps it.
    """
    try:
        with _sigterm_raises():
            result = main()
            if asyncio.iscoroutine(result):
                asyncio.run(_cancelled_by_sigterm(result))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Terminated:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside: SIGTERM raises Terminated, unless someone else already handles it."""
    # Signal handlers can be set only from the main thread; SIG_DFL means nobody claimed it.
    mine = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if mine:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        if mine:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


async def _cancelled_by_sigterm(coro: Awaitable[object]) -> object:
    """Await ``coro``; SIGTERM cancels it (as asyncio does on Ctrl-C) and then raises Terminated.

    Cancelling, rather than raising inside whatever callback the loop is running,
    lets every ``await`` in a ``finally`` block still work.
    """
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    before = signal.getsignal(signal.SIGTERM)
    if before != _on_sigterm or task is None:  # not ours to handle (see _sigterm_raises)
        return await coro
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await coro
    except asyncio.CancelledError:
        if terminated:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)  # it resets SIGTERM to SIG_DFL...
        signal.signal(signal.SIGTERM, before)  # ...so put ours back until run_main is done
