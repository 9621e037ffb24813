"""The command line of the from-scratch RESP client: ``python -m learn_pubsub.resp_cli``.

Reading order: resp -> resp_client -> **resp_cli** -> envelope -> publisher ->
subscriber -> slow_subscriber -> streams.  Kept apart from ``resp_client.py`` so
that the client itself reads on its own, and run as this module, never as
``-m learn_pubsub.resp_client``: that would load the client twice, once as
``__main__`` and once imported from here, with two ``RespClient`` classes::

    python -m learn_pubsub.resp_cli --resp 3 subscribe orders.created --count 2 -v
    python -m learn_pubsub.resp_cli publish orders.created '{"id":42}' -v
    python -m learn_pubsub.resp_cli --redis-url redis://127.0.0.1:6390 --parser fast ping

``--redis-url`` (else ``$REDIS_URL``, else redis://127.0.0.1:6379) names the
server, as in every program of this folder; ``--parser fast`` reads replies with
``resp_fast.py``; ``-v`` shows the bytes, ``-q`` no trace (the exit status says how it went).

Exit 0 once the action is done (``--count`` messages received, ``--expect``
receivers reached), 1 when a check fails or time runs out, 2 when Redis
cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from urllib.parse import urlsplit

from wirelab_common.errors import CheckFailed, SetupError, check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .resp_client import PARSERS, ConnectionLost, ReplyError, RespClient


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.resp_cli",
                                     description="A from-scratch RESP client: Pub/Sub, bytes visible.")
    parser.add_argument("action", choices=("subscribe", "psubscribe", "publish", "ping"))
    parser.add_argument("names", nargs="*", metavar="ARG", help="CHANNEL..., PATTERN..., CHANNEL MESSAGE")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
                        help="redis://HOST:PORT (default: $REDIS_URL, else redis://127.0.0.1:6379)")
    parser.add_argument("--resp", type=int, choices=(2, 3), default=2, help="RESP version")
    parser.add_argument("--parser", choices=sorted(PARSERS), default="plain",
                        help="plain: resp.py, the lesson (default); fast: resp_fast.py")
    parser.add_argument("--name", help="trace actor and CLIENT SETNAME")
    parser.add_argument("--count", type=int, help="(p)subscribe: exit 0 after this many messages")
    parser.add_argument("--expect", type=int, help="publish: exit 1 unless this many subscriptions got it")
    parser.add_argument("--timeout", type=float, help="exit 1 if not done within this many seconds")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    given = len(args.names)
    if given != 2 if args.action == "publish" else given != 0 if args.action == "ping" else given == 0:
        parser.error("give subscribe CHANNEL..., psubscribe PATTERN..., publish CHANNEL MESSAGE, or ping")
    return args


async def run(args: argparse.Namespace) -> None:
    url = urlsplit(args.redis_url)  # redis://host:port[/db]: Pub/Sub ignores the db number
    if url.scheme != "redis" or not url.hostname or url.password:
        raise SetupError(f"cannot use {args.redis_url!r}",
                         "pass --redis-url redis://HOST:PORT (no TLS, no AUTH)")
    trace = Trace(args.name or {"publish": "pub", "ping": "cli"}.get(args.action, "sub"), args.verbose,
                  quiet=args.quiet)
    try:
        client = await RespClient.connect(url.hostname, url.port or 6379, protocol=args.resp,
                                          trace=trace, name=args.name, parser=args.parser)
    except OSError as exc:
        raise SetupError(f"no Redis at {url.netloc}: {exc}",
                         "start redis-server, or pass --redis-url") from None
    try:
        async with asyncio.timeout(args.timeout), client:
            if args.action == "ping":
                check(await client.ping() == "PONG", "PING was not answered with PONG")
            elif args.action == "publish":
                receivers = await client.publish(*args.names)
                trace.note(f"{receivers} subscription(s) received it")
                check(args.expect in (None, receivers), f"expected {args.expect}, not {receivers}")
            else:
                await client.command(args.action.upper(), *args.names)
                received = 0
                async for _ in client.messages():
                    received += 1
                    if received == args.count:
                        trace.note(f"got the {received} message(s) expected")
                        break
    except TimeoutError:
        raise CheckFailed(f"{args.action} did not finish within {args.timeout}s") from None
    except (ReplyError, ConnectionLost) as exc:
        raise CheckFailed(f"{type(exc).__name__}: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
