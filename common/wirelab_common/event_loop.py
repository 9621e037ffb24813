"""Which asyncio event loop a server runs on (``--loop auto|asyncio|uvloop``).

Every wirelab server takes ``--loop``: "auto" picks uvloop when it is installed
(as the ``uvicorn`` command does), "asyncio" is the standard library's own loop,
so a benchmark can show what the loop costs.  ``asyncio.run()`` accepts a loop
factory only from Python 3.12; ``asyncio.Runner`` does in 3.11.

This module imports no web framework, so the UDP servers (dns) use it directly;
``asgi_server`` re-exports it for the uvicorn-based ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .errors import SetupError, run_main

LOOPS = ("auto", "asyncio", "uvloop")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop for ``--loop``; "auto" picks uvloop when installed, as uvicorn does."""
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise SetupError("uvloop is not installed",
                                 "pip install uvloop, or pass --loop asyncio") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_server(serve: Callable[[], Awaitable[None]], loop: str = "auto") -> None:
    """Run ``serve()`` on the chosen loop, with wirelab's exit codes (``errors.run_main``)."""

    def run() -> None:
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            runner.run(serve())

    run_main(run)
