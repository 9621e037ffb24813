"""Where the lots live and where bid events come from: this process alone, or Redis for all servers.

Reading order: schema -> hub -> **store** -> app -> server.

A bid is a compare-and-set ("higher than the current highest?") followed by an
event to every subscriber.  Two stores do it:

- :class:`MemoryStore`: a dict and this process's hub.  A second server has
  its own lots and its own subscribers: a bid on one is never seen on the other
  (the demo's ``--no-redis`` switch);
- :class:`RedisStore`: each lot is a Redis hash (``auction:lot:<id>``), and
  the compare-and-set and the ``PUBLISH`` run in one Lua script, so the check,
  the new highest bid, its sequence number and the event are atomic across
  every server: events reach the channel in sequence order.  Each server
  process holds **one** Redis subscription to ``auction:bids`` (however many
  GraphQL subscriptions it serves) and hands each message to its hub.

Redis pub/sub is at-most-once: a server that is disconnected from Redis misses
the events of that moment.  ``seq`` lets a client notice the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import redis.asyncio as aioredis

from .hub import Hub

CHANNEL = "auction:bids"
LOTS = {"lamp": ("An Art Deco lamp", 10), "clock": ("A carriage clock", 20)}  # id: (title, opening bid)

# KEYS[1] the lot's hash; ARGV: amount, bidder, server, channel.
# Returns {1, seq} when the bid is the new highest, {0, highest} when too low, {-1} for no such lot.
BID_SCRIPT = """
local highest = tonumber(redis.call('HGET', KEYS[1], 'highest'))
if not highest then return {-1} end
local amount = tonumber(ARGV[1])
if amount <= highest then return {0, highest} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'highest', amount, 'bidder', ARGV[2], 'server', ARGV[3])
local lot = string.sub(KEYS[1], 13)
local event = {lot=lot, amount=amount, bidder=ARGV[2], seq=seq, server=ARGV[3]}
redis.call('PUBLISH', ARGV[4], cjson.encode(event))
return {1, seq}
"""


class BidRefused(Exception):
    """Too low, or no such lot; the message says which."""


def lot_key(lot: str) -> str:
    return f"auction:lot:{lot}"  # 12 characters before the id: the script cuts them off


class MemoryStore:
    """The lots and the events of this process only."""

    def __init__(self, hub: Hub, server_id: str) -> None:
        self.hub, self.server_id = hub, server_id
        self.lots = {lot: {"id": lot, "title": title, "highest": opening, "bidder": None, "seq": 0,
                          "server": None}
                     for lot, (title, opening) in LOTS.items()}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def all_lots(self) -> list[dict[str, Any]]:
        return [dict(lot) for lot in self.lots.values()]

    async def bid(self, lot: str, amount: int, bidder: str) -> dict[str, Any]:
        if lot not in self.lots:
            raise BidRefused(f"no lot {lot!r}")
        current = self.lots[lot]
        if amount <= current["highest"]:
            raise BidRefused(f"{amount} is not above the highest bid, {current['highest']}")
        current.update(highest=amount, bidder=bidder, seq=current["seq"] + 1, server=self.server_id)
        event = {"lot": lot, "amount": amount, "bidder": bidder, "seq": current["seq"],
                 "server": self.server_id}
        self.hub.publish(lot, event)
        return event


class RedisStore(MemoryStore):
    """The lots in Redis hashes; events through one pub/sub channel shared by every server."""

    def __init__(self, hub: Hub, server_id: str, url: str) -> None:
        super().__init__(hub, server_id)
        self.redis = aioredis.from_url(url, decode_responses=True)
        self.script = self.redis.register_script(BID_SCRIPT)
        self.listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        for lot, (title, opening) in LOTS.items():
            # HSETNX: the first server to start opens the lot; the others keep its state.
            await self.redis.hsetnx(lot_key(lot), "title", title)
            await self.redis.hsetnx(lot_key(lot), "highest", opening)
            await self.redis.hsetnx(lot_key(lot), "seq", 0)
        self.listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self.subscribed.wait(), 5)  # ready only once events can arrive

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        self.subscribed.set()
        try:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    event = json.loads(message["data"])
                    self.hub.publish(event["lot"], event)
        finally:
            await pubsub.aclose()

    async def stop(self) -> None:
        if self.listener:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
        await self.redis.aclose()

    async def all_lots(self) -> list[dict[str, Any]]:
        lots = []
        for lot in LOTS:
            fields = await self.redis.hgetall(lot_key(lot))
            lots.append({"id": lot, "title": fields["title"], "highest": int(fields["highest"]),
                         "bidder": fields.get("bidder"), "seq": int(fields["seq"]),
                         "server": fields.get("server")})
        return lots

    async def bid(self, lot: str, amount: int, bidder: str) -> dict[str, Any]:
        result = await self.script(keys=[lot_key(lot)], args=[amount, bidder, self.server_id, CHANNEL])
        if result[0] == -1:
            raise BidRefused(f"no lot {lot!r}")
        if result[0] == 0:
            raise BidRefused(f"{amount} is not above the highest bid, {result[1]}")
        # The event itself reaches this server's subscribers through the channel, like everyone else's.
        return {"lot": lot, "amount": amount, "bidder": bidder, "seq": int(result[1]),
                "server": self.server_id}
