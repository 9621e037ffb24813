"""The auction's GraphQL schema: queries, a mutation and a subscription, in strawberry.

Reading order: **schema** -> hub -> store -> app -> server.

In SDL (``python -m strawberry export-schema`` prints the same)::

    type Query {
      lots: [Lot!]!
      lot(id: String!): Lot
      stats: Stats!
    }
    type Mutation {
      placeBid(lot: String!, amount: Int!): Bid!     # needs a signed-in user
    }
    type Subscription {
      bids(lot: String!): Bid!                       # every accepted bid on the lot, from now on
    }
    type Lot { id title highestBid bidder seq lastBid: Bid }
    type Bid { lot: Lot! amount bidder seq server }
    type Stats { server activeSubscriptions droppedSubscribers }

``Bid.lot`` and ``Lot.lastBid`` point at each other, so a client can write a query as
deep as it likes (``bids { lot { ... } }``): the depth limit in
:func:`build_schema` refuses such a document before it runs, with a GraphQL
error, however it arrives (HTTP, ``subscribe`` over WebSocket, SSE).

The resolvers find the store, the hub and the signed-in user in the context
that ``app.py`` builds for each request or WebSocket connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.types import Info

from .store import BidRefused

MAX_DEPTH = 5
MAX_ALIASES = 10


@strawberry.type
class Lot:
    id: str
    title: str
    highest_bid: int
    bidder: str | None
    seq: int
    server: strawberry.Private[str | None]

    @strawberry.field
    def last_bid(self) -> Bid | None:
        if self.bidder is None:
            return None  # only the opening price so far
        return Bid(lot_id=self.id, amount=self.highest_bid, bidder=self.bidder, seq=self.seq,
                   server=self.server or "?")


def lot_from(fields: dict[str, Any]) -> Lot:
    return Lot(id=fields["id"], title=fields["title"], highest_bid=fields["highest"],
               bidder=fields.get("bidder"), seq=fields["seq"], server=fields.get("server"))


@strawberry.type
class Bid:
    lot_id: strawberry.Private[str]
    amount: int
    bidder: str
    seq: int
    server: str  # the server that accepted the bid: it shows events crossing servers

    @strawberry.field
    async def lot(self, info: Info) -> Lot:
        return lot_from(next(x for x in await info.context["store"].all_lots() if x["id"] == self.lot_id))


def bid_from(event: dict[str, Any]) -> Bid:
    return Bid(lot_id=event["lot"], amount=event["amount"], bidder=event["bidder"], seq=event["seq"],
               server=event["server"])


@strawberry.type
class Stats:
    server: str
    active_subscriptions: int  # generators still running in this process (a leak shows here)
    dropped_subscribers: int  # cut off for reading too slowly (hub.py)


@strawberry.type
class Query:
    @strawberry.field
    async def lots(self, info: Info) -> list[Lot]:
        return [lot_from(fields) for fields in await info.context["store"].all_lots()]

    @strawberry.field
    async def lot(self, info: Info, id: str) -> Lot | None:  # noqa: A002  (the GraphQL argument's name)
        found = [f for f in await info.context["store"].all_lots() if f["id"] == id]
        return lot_from(found[0]) if found else None

    @strawberry.field
    def stats(self, info: Info) -> Stats:
        hub = info.context["hub"]
        return Stats(server=info.context["server_id"], active_subscriptions=hub.active,
                     dropped_subscribers=hub.dropped)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def place_bid(self, info: Info, lot: str, amount: int) -> Bid:
        user = info.context.get("user")
        if user is None:
            raise PermissionError("sign in first: a token in connection_init, or Authorization: Bearer")
        try:
            return bid_from(await info.context["store"].bid(lot, amount, user))
        except BidRefused as exc:
            raise ValueError(f"bid refused: {exc}") from None


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def bids(self, info: Info, lot: str) -> AsyncGenerator[Bid, None]:
        # When the client completes or disconnects, strawberry closes this generator;
        # hub.listen()'s finally then removes the queue (no leaked subscription).
        async for event in info.context["hub"].listen(lot):
            yield bid_from(event)


def build_schema(max_depth: int | None = MAX_DEPTH) -> strawberry.Schema:
    """The schema with its limits; ``max_depth=None`` turns the depth limit off (``--no-depth-limit``)."""
    extensions: list[Any] = [MaxAliasesLimiter(max_alias_count=MAX_ALIASES)]
    if max_depth is not None:
        extensions.append(QueryDepthLimiter(max_depth=max_depth))
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)
