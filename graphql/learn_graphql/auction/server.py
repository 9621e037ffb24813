"""The auction server process: command line, uvicorn, ready line.

Reading order: schema -> hub -> store -> app -> **server**.

    python -m learn_graphql.auction.server --port 8000 --server-id s1 \\
        [--redis-url redis://127.0.0.1:6379/0] [--token alice=alice-token ...] \\
        [--init-timeout 3] [--max-depth 5] [--no-depth-limit] [--no-auth] [-v | -q]

It prints ``= s1       listening on http://127.0.0.1:8000`` once it accepts
connections (and, with ``--redis-url``, once its Redis subscription is live).
GraphQL is at ``/graphql``: HTTP, and WebSocket with either subprotocol.

Without ``--redis-url`` the server keeps its lots and its events to itself.
The two ``--no-...`` switches turn off a protection so that the demo can show
its check failing: ``--no-auth`` accepts any ``connection_init``,
``--no-depth-limit`` runs queries however deep.
"""

from __future__ import annotations

import argparse

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.ports import ensure_port_free
from wirelab_common.redis_server import check_redis
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from .app import DEMO_TOKENS, Settings, create_app
from .schema import MAX_DEPTH


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_graphql.auction.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser, port=8000)  # --host --port --loop -v -q, as every wirelab server
    parser.add_argument("--server-id", default="s1", help="name in traces and in every bid it accepts")
    parser.add_argument("--redis-url", help="share lots and events with other servers through Redis")
    parser.add_argument("--token", action="append", default=[], metavar="NAME=TOKEN",
                        help="a user and their token (default: alice ... erin, each with NAME-token)")
    parser.add_argument("--init-timeout", type=float, default=3.0,
                        help="seconds to wait for connection_init before closing with 4408 (default 3)")
    parser.add_argument("--max-depth", type=int, default=MAX_DEPTH, help=f"query depth limit ({MAX_DEPTH})")
    parser.add_argument("--no-depth-limit", action="store_true", help="run queries of any depth")
    parser.add_argument("--no-auth", action="store_true", help="accept every connection_init")
    parser.add_argument("--queue-size", type=int, default=256, help="events a subscriber may fall behind")
    args = parser.parse_args(argv)
    tokens = {}
    for item in args.token:
        name, sep, token = item.partition("=")
        if not sep or not name or not token:
            parser.error(f"--token wants NAME=TOKEN, got {item!r}")
        tokens[name] = token
    args.tokens = tokens or dict(DEMO_TOKENS)
    return args


async def serve(args: argparse.Namespace) -> None:
    trace = Trace(args.server_id, verbose=args.verbose, quiet=args.quiet)
    ensure_port_free(args.host, args.port)
    if args.redis_url:
        await check_redis(args.redis_url)
    settings = Settings(server_id=args.server_id, tokens=args.tokens, redis_url=args.redis_url,
                        init_timeout=args.init_timeout,
                        max_depth=None if args.no_depth_limit else args.max_depth,
                        check_auth=not args.no_auth, queue_size=args.queue_size, trace=trace)
    app = create_app(settings)

    def describe(host: str, port: int) -> list[str]:
        return [
            f"GraphQL over HTTP: http://{host}:{port}/graphql",
            f"GraphQL over WebSocket: ws://{host}:{port}/graphql (graphql-transport-ws, graphql-ws)",
            f"events: {'Redis pub/sub ' + args.redis_url if args.redis_url else 'this process only'}",
            f"connection_init within {args.init_timeout:g} s; depth limit "
            f"{'off' if args.no_depth_limit else args.max_depth}; auth {'off' if args.no_auth else 'on'}",
        ]

    cfg = config(app, args.host, args.port, ws="websockets-sansio", timeout_graceful_shutdown=2)
    await TracedServer(cfg, trace, describe).serve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
