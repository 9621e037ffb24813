"""The wire as a sequence diagram in the browser: ``make view FILE=events.jsonl``.

``python -m wirelab_common.viewer EVENTS_FILE [--host H] [--port P]`` serves one
page (``viewer_static/``: plain HTML, CSS and JavaScript, nothing fetched from
the internet) that draws a JSON Lines events file (``trace_events.py``) as a
sequence diagram: one lifeline per actor, an arrow per message sent, a note
per state change, and the demo's act banners as section headings.  Clicking
an arrow shows both ends' detail lines (headers, fields, frame bytes).  The bar
above filters by direction and by actor (an arrow hides with either of its
ends) and folds repeated messages.

The page reads the file through ``GET /events``, a ``text/event-stream`` that
sends every line of the file (the SSE ``id`` is the line number, counted
from 1) and then follows the file as it grows, so the same page shows a
finished recording or a demo still running.  A reconnecting ``EventSource``
sends ``Last-Event-ID`` and gets only the lines after it.  Without
EVENTS_FILE, the viewer reads ``$WIRELAB_TRACE_FILE``.

Arrows are paired in the page (``viewer.js``).  A ``sent`` and a
``received`` whose ends name each other (``peer``) and carry the same
``cid`` pair first, in order, whatever their summaries say.  Otherwise
the pair is inferred: a ``sent`` is paired with the
earliest unpaired ``received`` of another actor, within the next or previous
few hundred lines, whose summary matches up to the first double space (the
trace's annotations, such as ``  (upgrade to websocket)``, follow two spaces);
failing that, with the same first word and either the same second word (a
URL compared by its path) or a shared id (a run of 12 or more letters and
digits with a digit in it), since the two ends do not always print the same
summary (``POST http://h/webhook id=msg_1`` and ``POST /webhook id=msg_1``).
The arrow is drawn on the sender's line and the paired ``received`` line is
hidden.  A ``sent`` with no partner (yet) points to its ``peer``'s lane if it
names one, else to a "?" lane at the left (a peer that writes no events, such
as Redis, or two ends that print different summaries); a ``received`` with no
partner comes in from its ``peer``'s lane likewise, else from the "?" lane
(shown only while some arrow uses it).
Where events carry ``peer`` or ``cid``, a pair must agree with them; without
them, the guess can pair the wrong two of several identical messages in flight.
Repeats of one message (heartbeats: one sender, one peer, the same summary
and ``cid``) within a few lines, with no state change of their actor in
between, fold into the first, which shows a count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import trace_events
from .asgi_server import TracedServer, config, run_server
from .server_cli import add_server_options
from .wiretrace import Trace

STATIC = Path(__file__).with_name("viewer_static")
POLL = 0.2  # seconds between looks at a growing file
KEEPALIVE = 15.0  # an SSE comment this often, so idle proxies keep the stream open


def start_line(request: Request) -> int:
    """The number of lines the client already has (Last-Event-ID, or ?from= on first load)."""
    given = request.headers.get("last-event-id") or request.query_params.get("from") or "0"
    try:
        return max(0, int(given))
    except ValueError:
        return 0


async def follow(path: Path, after: int, stopping: asyncio.Event, poll: float = POLL):
    """SSE messages for each complete line of ``path`` after line ``after``, then as it grows."""
    number, offset, partial, idle = 0, 0, b"", 0.0
    yield f": following {path}\n\n"  # the page knows it is connected, even to an empty file
    while not stopping.is_set():
        try:
            with path.open("rb") as f:
                if os.fstat(f.fileno()).st_size < offset:  # truncated or replaced: start over
                    number, offset, partial = 0, 0, b""
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""  # not written yet: a demo about to start
        offset += len(chunk)
        lines = (partial + chunk).split(b"\n")
        partial = lines.pop()  # a line still being written has no newline yet
        for line in lines:
            number += 1
            if number > after and line.strip():
                yield f"id: {number}\ndata: {line.decode('utf-8', 'replace')}\n\n"
        if chunk:
            idle = 0.0
            continue
        await asyncio.sleep(poll)
        idle += poll
        if idle >= KEEPALIVE:
            idle = 0.0
            yield ": still following\n\n"


def build_app(path: Path, stopping: asyncio.Event) -> Starlette:
    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(follow(path, start_line(request), stopping), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return Starlette(routes=[
        Route("/", index),
        Route("/events", events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


def parse_args(argv: list[str] | None = None, default: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wirelab_common.viewer",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("events_file", nargs="?", metavar="EVENTS_FILE",
                        default=default,
                        help="a JSON Lines events file, finished or growing (default $WIRELAB_TRACE_FILE)")
    add_server_options(parser, port=8777)  # not 8765: the websocket echo server's
    args = parser.parse_args(argv)
    if not args.events_file:
        parser.error("name an events file (or set WIRELAB_TRACE_FILE)")
    return args


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("viewer", verbose=args.verbose, quiet=args.quiet)
    stopping = asyncio.Event()  # ends the open streams, so shutdown need not wait for them
    app = build_app(Path(args.events_file), stopping)
    server = TracedServer(config(app, args.host, args.port), trace,
                          lambda host, port: [f"drawing {args.events_file}"], before_shutdown=stopping.set)
    await server.serve()


def main(argv: list[str] | None = None) -> None:
    # The viewer's own trace lines must not land in the file it is drawing.
    args = parse_args(argv, default=os.environ.pop(trace_events.ENV, None))
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
