"""The anchor for bench_graphql.py: a bare ``websockets`` broadcast of the same ``next`` messages.

    python bench/bench_graphql_anchor.py --redis-url redis://127.0.0.1:P/0 [--port 0]

It subscribes to the auction's Redis channel, and for every bid event builds
the exact text a GraphQL server sends a ``bids`` subscriber
(``{"id":"1","type":"next","payload":{"data":{"bids":{...}}}}``) and hands it
to ``websockets.broadcast`` for every connected client.  No GraphQL: no parse,
no validation, no resolver, no per-subscriber serialisation.  A client connects
with the ``graphql-transport-ws`` subprotocol, sends anything (its
``connection_init``), gets ``connection_ack``, sends anything again (its
``subscribe``), and from then on receives the broadcast; so the bench's clients
are the same on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, broadcast, serve

from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

CHANNEL = "auction:bids"  # learn_graphql.auction.store.CHANNEL


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_options(parser, port=0, loop=False)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # connection_init
        await ws.send('{"type":"connection_ack"}')
        await ws.recv()  # subscribe
        subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    redis = aioredis.from_url(args.redis_url, decode_responses=True)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    async with serve(handler, args.host, args.port, subprotocols=["graphql-transport-ws"],
                     compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        announce(Trace("anchor", quiet=True), f"ws://{args.host}:{port}")
        async for message in pubsub.listen():
            event = json.loads(message["data"])
            bid = {key: event[key] for key in ("amount", "bidder", "seq", "server")}
            text = json.dumps({"id": "1", "type": "next", "payload": {"data": {"bids": bid}}},
                              separators=(",", ":"))
            broadcast(subscribers, text)


if __name__ == "__main__":
    asyncio.run(main())
