"""The MCP server process: command line, transport choice, ready line, clean shutdown.

Reading order: ... -> server_core -> stdio_transport / sessions + http_headers + http_transport ->
**server**.

    python -m learn_mcp.server --transport stdio [--stdio-reader fast|stream] [-v | -q]
    python -m learn_mcp.server --transport http [--host 127.0.0.1] [--port 8000] [--token T]
                               [--allow-origin ORIGIN ...] [--sse-poll-ms N]
                               [--sse-close-after SECONDS] [--http-writes coalesce|plain]
                               [--loop auto]
                               [--conformance-fixtures] [-v | -q]

The options ``--host``, ``--port`` (0: any free port), ``--loop``, ``-v`` and ``-q`` are
every wirelab server's (``wirelab_common.server_cli``); ``--loop`` matters over HTTP only.

Contract (what clients, the demo and the tests rely on; keep it stable):

- **stdio**: newline-delimited JSON-RPC on stdin/stdout, nothing else on stdout.
  Ready line on stderr: ``= mcp      listening on stdio``.  End of input: exit 0.
  ``--stdio-reader stream`` reads lines with the lesson's ``StreamReader`` loop
  (stdio_transport.py); the default ``fast`` splits them in the pipe's callback
  (stdio_fast.py), with the same behaviour.
- **http**: one endpoint, ``POST/GET/DELETE http://HOST:PORT/mcp``.  Ready line on
  stdout: ``= mcp      listening on http://HOST:PORT`` (the real port, also with
  ``--port 0``).  SIGTERM: exit 0.
  ``--http-writes plain`` lets uvicorn write each response's head and body apart;
  the default ``coalesce`` sends what one turn of the event loop wrote in one socket
  write (http_fast.py), with the same bytes.
  ``--token T`` requires ``Authorization: Bearer T`` (else 401 with
  ``WWW-Authenticate``); ``--allow-origin`` adds browser origins besides our own
  (any other ``Origin`` gets 403).  Binds 127.0.0.1 unless told otherwise.
  ``--sse-poll-ms N``: each GET stream ends once the client has every event, and the
  client comes back after N ms with ``Last-Event-ID`` (http_get.py).
  ``--sse-close-after S``: a 2025-11-25 POST whose call still runs S seconds in gets
  its connection ended by the server (``retry:`` first); the client resumes that
  stream with ``GET`` + ``Last-Event-ID`` and gets the rest of the call there.
- **revisions**: 2026-07-28 (stateless, ``server/discover``, ``_meta`` envelope)
  and 2025-11-25 (``initialize`` handshake; over HTTP a session with
  ``Mcp-Session-Id``), chosen by each client; 2025-06-18 and 2025-03-26 are
  accepted in ``initialize`` too.
- **tools** (input -> structuredContent; see tools.py for the schemas):
  ``calculate`` {expression} -> {value}; ``add_note`` {title, body} -> {id};
  ``search_notes`` {query} -> {notes: [{id, title, body}]};
  ``delete_note`` {id} -> {id, deleted} (destructiveHint);
  ``slow_count`` {steps, delay} -> {counted} (progress, cancellable);
  ``add_notes`` {notes: [[title, body], ...]} -> {ids};
  ``summarize`` {query} -> {summary, model} (asks the client: sampling);
  ``ask_for_note`` {why} -> {action, id?} (asks the user: elicitation).
- **resources**: ``notes://index``, ``notes://{id}`` (template); **prompt**:
  ``summarize_notes`` {style: short|bullets|detailed, query?}.
- ``-v``: every JSON-RPC message on stderr, ``<`` received, ``>`` sent; ``-q``: no
  trace lines but the ready line and errors.  With ``WIRELAB_TRACE_FILE`` (or
  ``--trace-file``) every message is also an event there, ``peer`` (the client's
  ``clientInfo.name``) and ``cid`` (the JSON-RPC id) included, ``-v`` or not.
- ``--conformance-fixtures``: also the ``test_*`` tools and prompts and ``test://``
  resources the MCP conformance suite calls by name (conformance_fixtures.py); only
  its test uses this.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys

from wirelab_common import trace_events
from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from . import conformance_fixtures
from .http_fast import CoalescingHttpToolsProtocol
from .http_transport import HttpSettings, McpHttpApp
from .server_core import ServerCore
from .stdio_fast import serve_stdio_fast
from .stdio_transport import serve_stdio


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_mcp.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    add_server_options(parser, port=8000)  # --host --port --loop -v -q (--loop: http only)
    parser.add_argument("--stdio-reader", choices=("fast", "stream"), default="fast",
                        help="stdio: split lines in the pipe's callback (stdio_fast.py, the default) "
                             "or read them with the lesson's StreamReader loop (stdio_transport.py)")
    parser.add_argument("--http-writes", choices=("coalesce", "plain"), default="coalesce",
                        help="http: send each loop turn's response bytes in one socket write (http_fast.py, "
                             "the default) or let uvicorn write head and body apart")
    parser.add_argument("--token", help="require Authorization: Bearer TOKEN (http)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser origin allowed besides the server's own (http; repeatable)")
    parser.add_argument("--sse-poll-ms", type=int, metavar="N",
                        help="http: end each GET stream once caught up, the client to resume after N ms")
    parser.add_argument("--sse-close-after", type=float, metavar="SECONDS",
                        help="http: end a POST's SSE connection once its call has run this long "
                             "(the client resumes it with GET + Last-Event-ID)")
    parser.add_argument("--conformance-fixtures", action="store_true",
                        help="also offer the conformance suite's test_* tools, resources and prompts")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_core(args: argparse.Namespace) -> ServerCore:
    core = ServerCore(asyncio.sleep)
    if args.conformance_fixtures:  # only the conformance test asks for these (conformance_fixtures.py)
        conformance_fixtures.install(core)
    return core


def wire_trace(verbose: bool) -> Trace | None:
    """Where each message is traced: stderr with ``-v``; else, when events are recorded
    (``WIRELAB_TRACE_FILE``), the events file alone (no text: stdout may be the protocol's)."""
    if verbose:
        return Trace("mcp", verbose=True, stream=sys.stderr)
    return Trace("mcp", quiet=True) if trace_events.requested() else None


async def serve_http(args: argparse.Namespace) -> None:
    trace = Trace("mcp", verbose=args.verbose, quiet=args.quiet)
    wire = wire_trace(args.verbose)
    ensure_port_free(args.host, args.port)
    settings = HttpSettings(token=args.token, allow_origins=args.allow_origin, poll_ms=args.sse_poll_ms,
                            close_after=args.sse_close_after, loopback=is_loopback(args.host))
    mcp = McpHttpApp(make_core(args), settings, trace, wire)

    def describe(host: str, port: int) -> list[str]:
        settings.port = port  # our own origins and Host values need the real port
        return [f"endpoint: http://{host}:{port}/mcp (2026-07-28 and 2025-11-25)",
                "auth: bearer token required" if args.token else "auth: none",
                f"extra origins: {', '.join(args.allow_origin) or 'none'}"]

    options = {"http": CoalescingHttpToolsProtocol} if args.http_writes == "coalesce" else {}
    await TracedServer(config(mcp.app, args.host, args.port, **options), trace, describe, mcp.close).serve()


async def serve_stdio_main(args: argparse.Namespace) -> None:
    # stdout is for protocol messages only
    trace = Trace("mcp", verbose=args.verbose, stream=sys.stderr, quiet=args.quiet)
    wire = wire_trace(args.verbose)
    serve = serve_stdio_fast if args.stdio_reader == "fast" else serve_stdio
    await serve(make_core(args), trace, wire)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.transport == "stdio":
        run_server(lambda: serve_stdio_main(args), "asyncio")
    else:
        run_server(lambda: serve_http(args), args.loop)


if __name__ == "__main__":
    main()
