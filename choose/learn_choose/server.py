"""The feed server process: every delivery method on one port.

    python -m learn_choose.server [--port 8280] [--data-dir DIR] [--hold 25] [--heartbeat 15] [-v | -q]

It prints ``= choose   listening on http://127.0.0.1:8280`` once it accepts.
With ``--data-dir`` the event log and the webhook subscriptions survive a
restart (seq numbers continue, cursors still resolve); without it they live in a
temporary directory removed at exit.  The soft limit on open files is raised to
the hard limit, so the lab can hold 1,000 idle clients (each is a descriptor).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
from pathlib import Path

from wirelab_common.asgi_server import TracedServer, config, data_directory, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .app import Settings, create_app


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8280)
    parser.add_argument("--data-dir", type=Path, help="event log and subscriptions (default: a temp dir)")
    parser.add_argument("--hold", type=float, default=25.0, help="long poll: seconds to hold a request")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds between keep-alive lines")
    args = parser.parse_args(argv)
    if args.hold <= 0 or args.heartbeat <= 0:
        parser.error("--hold and --heartbeat must be > 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("choose", verbose=args.verbose, quiet=args.quiet)
    if args.port:
        ensure_port_free(args.host, args.port)
    limit = raise_open_files_limit()
    with contextlib.ExitStack() as cleanup:
        data = data_directory(args.data_dir, cleanup, "wirelab-choose-")
        app = create_app(Settings(data, args.hold, args.heartbeat), trace)
        detail = [f"data: {data}", f"hold {args.hold} s, heartbeat {args.heartbeat} s, open files {limit}"]
        # before_shutdown ends every open stream and held poll, so clients reconnect at once.
        server = TracedServer(config(app, args.host, args.port, backlog=2048), trace,
                              lambda host, port: detail, before_shutdown=app.feed.close)
        await server.serve()


def main() -> None:
    args = parse_args()
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
