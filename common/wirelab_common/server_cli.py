"""The one server skeleton: the same options and the same ready line in every pattern.

Every wirelab server takes the same options, spelled the same way::

    --host HOST        the address to listen on (127.0.0.1 unless told otherwise)
    --port PORT        the port; 0 lets the kernel pick a free one
    --loop LOOP        auto | asyncio | uvloop  (servers on asyncio only)
    -v, --verbose      detail lines under each trace line (frames, headers, packets)
    -q, --quiet        no trace lines, only the ready line and errors
    --trace-file PATH  every trace line also as a JSON event (``trace_events.py``)

and says it is ready with one trace line, printed once the socket accepts::

    = NAME     listening on SCHEME://HOST:PORT

With ``--port 0`` that line is the only place the real port appears, so tests
and demos start servers with ``--port 0`` and read the port from it
(:func:`wirelab_common.processes.start_server`), instead of asking for a free
port first and racing another process for it.
"""

from __future__ import annotations

import argparse
import re
from urllib.parse import urlsplit

from . import trace_events
from .event_loop import LOOPS
from .wiretrace import Trace

# The ready line, as the trace prints it: "= NAME<padding> listening on URL".
READY_LINE = re.compile(r"^= (?P<name>\S+)\s+listening on (?P<url>[a-z0-9+]+://\S+)")


def add_server_options(parser: argparse.ArgumentParser, *, port: int, host: str = "127.0.0.1",
                       loop: bool = True) -> None:
    """Add --host, --port, --loop (unless ``loop=False``), -v and -q to ``parser``."""
    parser.add_argument("--host", default=host, help=f"address to listen on (default {host})")
    parser.add_argument("--port", type=int, default=port,
                        help=f"port to listen on (default {port}; 0: any free port, named in the ready line)")
    if loop:
        parser.add_argument("--loop", choices=LOOPS, default="auto",
                            help="event loop: auto picks uvloop when installed (default auto)")
    add_verbosity(parser)


class _TraceFile(argparse.Action):
    """``--trace-file PATH``: structured events from the moment the option is read."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        trace_events.record_to(str(values))
        setattr(namespace, self.dest, values)


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v shows detail lines; -q shows none but the ready line and errors; --trace-file writes events."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="detail under each trace line")
    group.add_argument("-q", "--quiet", action="store_true", help="no trace lines but the ready line")
    parser.add_argument("--trace-file", metavar="PATH", action=_TraceFile,
                        help="also write every trace line as a JSON event to PATH (JSON Lines; -q or not)")


def announce(trace: Trace, url: str) -> None:
    """Print the ready line (``= NAME listening on URL``) through ``trace``, even when quiet."""
    trace.state(f"listening on {url}", always=True)


def parse_ready(line: str) -> tuple[str, str, int] | None:
    """(name, url, port) from a ready line, or None if ``line`` is not one."""
    match = READY_LINE.match(line)
    if match is None:
        return None
    url = match.group("url")
    port = urlsplit(url).port
    if port is None:
        return None
    return match.group("name"), url, port
