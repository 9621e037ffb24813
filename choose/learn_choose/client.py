"""One client of one method, printing what crosses the wire.

    python -m learn_choose.client METHOD [--url http://127.0.0.1:8280] [--since 0] [--for 10] [-v]

METHOD is one of short-poll, long-poll, sse, websocket, webhook, chunked.  It
prints a ``<`` line per event with its latency, and stops after ``--for``
seconds (or Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from wirelab_common.errors import run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .methods import METHODS
from .sink import Sink


async def run(args: argparse.Namespace) -> None:
    trace = Trace(args.method, verbose=args.verbose, quiet=args.quiet)
    sink = Sink(args.method, trace, cursor=args.since)
    stop = asyncio.Event()
    task = asyncio.ensure_future(METHODS[args.method].receive(args.url, sink, stop))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), args.seconds)
    stop.set()
    await asyncio.wait_for(task, 10)
    trace.note(f"{len(sink.got)} events, last seq {sink.cursor}, {sink.reconnects} reconnects")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", choices=list(METHODS))
    parser.add_argument("--url", default="http://127.0.0.1:8280")
    parser.add_argument("--since", type=int, default=0, help="cursor to start after (0: from the start)")
    parser.add_argument("--for", dest="seconds", type=float, default=10.0, help="seconds to run")
    add_verbosity(parser)
    args = parser.parse_args()
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
