"""The graphql demo: ``make demo-graphql`` (``python -m learn_graphql.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

Redis, two auction servers (``auction/server.py``) sharing it, and clients
built on our own protocol layer (``client.py`` on ``transport_ws.py``), so
every ``graphql-transport-ws`` message is traced as it crosses.  Two acts,
each checked, so the demo is also a test (CI runs it as one):

1. **Every subscriber sees every bid.**  alice subscribes on s1, bob on s2,
   and erin on s2 over the other transport, GraphQL over SSE (one POST whose
   answer is an event stream); carol bids twice on s1 and dave once on s2,
   each bid a mutation over ``graphql-transport-ws``.  All three subscribers
   must see all three bids, in sequence order, whichever server took them
   (Redis pub/sub between the servers).  Then erin's response closes and bob
   leaves without a ``complete``, and s2's subscription count goes back to 0.
2. **Bad clients are refused, the protocol's way.**  On s1, one connection
   each: no ``connection_init`` (close 4408), a stolen token (4403),
   ``subscribe`` before the ack (4401), the same id twice (4409), text that is
   not JSON and a type that does not exist (4400), and a query nested deeper
   than the limit (a GraphQL error; the connection goes on).

Exit 0 when every check passed, 1 when one failed, 2 when the machine lacks
something (redis-server), with what to do.

``--act N`` runs one act.  Each switch turns a mechanism off, and the check
that shows it must then fail (exit 1, naming what went wrong):
``--no-redis`` (act 1: the servers share nothing), ``--no-init-timeout``
(act 2: the servers wait a minute for ``connection_init``), ``--no-auth``
(act 2: any token is accepted), ``--no-depth-limit`` (act 2: deep queries run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.redis_server import redis_url
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from .client import ConnectionEnded, GraphQLClient, OperationFailed, connect

PY = sys.executable
BIDS = 'subscription { bids(lot: "lamp") { amount bidder seq server } }'
BID = 'mutation { placeBid(lot: "lamp", amount: %d) { seq server } }'
DEEP = "{ lots { lastBid { lot { lastBid { lot { lastBid { amount } } } } } } }"  # depth 6; the limit is 5
INIT_TIMEOUT = 1.0  # the servers' connection_init wait in this demo (the default is 3 s)
CLOSE_WAIT = 4.0  # how long a check waits for the server's close frame


class Servers:
    def __init__(self, procs: dict[str, ManagedProcess]) -> None:
        self.procs = procs

    def ws(self, server_id: str) -> str:
        return f"ws://127.0.0.1:{self.procs[server_id].port}/graphql"

    def http(self, server_id: str) -> str:
        return f"http://127.0.0.1:{self.procs[server_id].port}/graphql"


async def sse_bids(url: str, token: str, count: int, trace: Trace, peer: str) -> list[dict[str, Any]]:
    """The same subscription over SSE: one POST, then ``event: next`` / ``data: {...}`` per bid."""
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    bids: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as http, \
            http.stream("POST", url, json={"query": BIDS}, headers=headers) as response:
        trace.state(f"POST {url} -> {response.status_code} {response.headers.get('content-type')}")
        event = ""
        async for line in response.aiter_lines():
            if line:
                trace.received(line, peer=peer)  # the server does not trace SSE lines: name it here
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "next":
                bids.append(json.loads(line[len("data: "):])["data"]["bids"])
                if len(bids) == count:
                    break  # leaving closes the response: the server ends the subscription
    return bids


@contextlib.asynccontextmanager
async def auction_servers(trace: Trace, args: argparse.Namespace) -> AsyncIterator[Servers]:
    options = ["--init-timeout", str(60 if args.no_init_timeout else INIT_TIMEOUT)]
    options += ["--no-auth"] * args.no_auth + ["--no-depth-limit"] * args.no_depth_limit
    options += ["-v"] * args.verbose
    with contextlib.ExitStack() as stack:
        if args.no_redis:
            trace.note("--no-redis: each server keeps its lots and its events to itself")
        else:
            url = stack.enter_context(redis_url())
            trace.state(f"redis at {url}")
            options += ["--redis-url", url]
        procs = {}
        for server_id in ("s1", "s2"):
            argv = [PY, "-m", "learn_graphql.auction.server", "--port", "0", "--server-id", server_id,
                    *options]
            procs[server_id] = stack.enter_context(start_server(argv, name=server_id, echo=True))
        yield Servers(procs)


async def next_bid(name: str, source: Any, what: str) -> dict[str, Any]:
    """The next ``bids`` event from ``source`` (a stream, or a future already waiting on one)."""
    try:
        result = await asyncio.wait_for(source if asyncio.isfuture(source) else anext(source), 5)
    except TimeoutError:
        raise CheckFailed(f"{name} never saw {what} (waited 5 s)") from None
    return result["data"]["bids"]


async def count_subscriptions(client: GraphQLClient) -> int:
    return (await client.execute("{ stats { activeSubscriptions } }"))["stats"]["activeSubscriptions"]


async def s2_runs(client: GraphQLClient, count: int, why: str) -> None:
    """Wait until the server ``client`` is on runs ``count`` subscriptions, or fail saying ``why``."""
    async def reached() -> bool:
        return await count_subscriptions(client) == count
    try:
        await eventually_async(reached, 5, f"the subscription count to drop to {count}")
    except NotInTime as exc:
        raise CheckFailed(f"{why}: {exc}") from None


async def act_everyone_sees_every_bid(trace: Trace, servers: Servers, verbose: bool) -> None:
    trace.banner("Act 1: subscribers on two servers, bids on both, every subscriber sees every bid")
    async with connect(servers.ws("s1"), {"token": "alice-token"}, trace=Trace("alice", verbose)) as alice, \
            connect(servers.ws("s2"), {"token": "bob-token"}, trace=Trace("bob", verbose)) as bob, \
            connect(servers.ws("s1"), {"token": "carol-token"}, trace=Trace("carol", verbose)) as carol, \
            connect(servers.ws("s2"), {"token": "dave-token"}, trace=Trace("dave", verbose)) as dave:
        streams = {"alice": alice.subscribe(BIDS), "bob": bob.subscribe(BIDS)}
        pending = {name: asyncio.ensure_future(anext(stream)) for name, stream in streams.items()}
        over_sse = sse_bids(servers.http("s2"), "erin-token", 3, Trace("erin", verbose), peer="s2")
        erin = asyncio.create_task(over_sse)
        for name, client, count in (("s1", carol, 1), ("s2", dave, 2)):  # s2: bob, and erin over SSE
            async def running(c: GraphQLClient = client, n: int = count) -> bool:
                return await count_subscriptions(c) == n
            try:
                await eventually_async(running, 5, f"{name} to run {count} subscription(s)")
            except NotInTime as exc:
                raise CheckFailed(str(exc)) from None
        trace.note("the subscriptions run (erin's over SSE); carol bids on s1, dave on s2")
        # A Redis from REDIS_URL may remember earlier runs: bid above what the lot holds now.
        now = (await carol.execute('{ lot(id: "lamp") { highestBid seq } }'))["lot"]
        base, seq0 = now["highestBid"], now["seq"]
        bids = [(carol, "carol", base + 5), (carol, "carol", base + 10), (dave, "dave", base + 15)]
        placed = []
        for client, _, amount in bids:
            placed.append((await client.execute(BID % amount))["placeBid"])
        for name, stream in streams.items():
            seen = []
            for n, (_, who, amount) in enumerate(bids):
                source = pending[name] if n == 0 else stream
                seen.append(await next_bid(name, source, f"bid #{n + 1} ({who}'s {amount})"))
            got = [(b["bidder"], b["amount"], b["server"]) for b in seen]
            want = [(who, amount, p["server"]) for (_, who, amount), p in zip(bids, placed, strict=True)]
            check(got == want, f"{name} saw {got}, expected {want}")
            check([b["seq"] for b in seen] == [seq0 + 1, seq0 + 2, seq0 + 3],
                  f"{name}: bids out of sequence: {seen}")
            servers_seen = sorted({b["server"] for b in seen})
            trace.note(f"{name} saw all {len(seen)} bids in order, from {servers_seen}")
        try:
            erin_saw = await asyncio.wait_for(erin, 5)
        except TimeoutError:
            raise CheckFailed("erin (SSE on s2) did not get all 3 bids within 5 s") from None
        got = [(b["bidder"], b["amount"], b["server"]) for b in erin_saw]
        check(got == want, f"erin (SSE) saw {got}, expected {want}")
        trace.note("erin saw the same 3 bids over SSE: one POST, one event: next per bid")
        await s2_runs(dave, 1, "erin's SSE response closed, so s2 must end her subscription")
        trace.note("bob's socket closes without a complete: s2 must end his subscription by itself")
        await bob.socket.close()
        pending["bob"].cancel()
        await streams["bob"].aclose()
        await s2_runs(dave, 0, "bob's socket is gone, so s2 must end his subscription")
        trace.note("s2 ran 2 subscriptions (bob's, erin's), 0 after: nothing leaked")
        await streams["alice"].aclose()


async def expect_close(trace: Trace, servers: Servers, what: str, code: int, *texts: str,
                       token: str = "alice-token", init: bool = True, hint: str = "") -> None:
    trace.note(what)
    client_trace = Trace("mallory", verbose=True)
    try:
        async with connect(servers.ws("s1"), {"token": token}, trace=client_trace, init=init) as client:
            for text in texts:
                await client.send_raw(text)
            ended = await client.closed(CLOSE_WAIT)
    except ConnectionEnded as exc:  # closed before the ack
        ended = exc
    except TimeoutError:
        raise CheckFailed(f"{what}: the server did not close within {CLOSE_WAIT:g} s {hint}".rstrip()) \
            from None
    check(ended.code == code,
          f"{what}: expected close {code}, got {ended.code} {ended.reason!r} {hint}".rstrip())


async def act_bad_clients(trace: Trace, servers: Servers) -> None:
    trace.banner("Act 2: bad clients get the protocol's close codes; a too-deep query a GraphQL error")
    subscribe = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BIDS}})
    await expect_close(trace, servers, "no connection_init at all", 4408, init=False,
                       hint="(the server never enforced its connection_init wait)")
    await expect_close(trace, servers, "a stolen token in connection_init", 4403, token="stolen",
                       hint="(the server accepted a token it does not know)")
    await expect_close(trace, servers, "subscribe before connection_init", 4401, subscribe, init=False)
    await expect_close(trace, servers, "the same subscription id twice", 4409, subscribe, subscribe)
    await expect_close(trace, servers, "a message that is not JSON", 4400, "{oops")
    await expect_close(trace, servers, "a message type that does not exist", 4400,
                       json.dumps({"type": "start", "id": "1"}))
    trace.note("a query nested deeper than the limit: refused before it runs, the connection stays")
    alice_trace = Trace("alice", verbose=True)
    async with connect(servers.ws("s1"), {"token": "alice-token"}, trace=alice_trace) as alice:
        try:
            await alice.execute(DEEP)
        except OperationFailed as exc:
            check("depth" in str(exc), f"the deep query failed, but not for its depth: {exc}")
        else:
            raise CheckFailed("a query of depth 6 ran: the server has no depth limit")
        await alice.execute("{ lots { id } }")
    trace.note("every bad client was refused with the code PROTOCOL.md gives it")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_graphql.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="the whole JSON of every message")
    parser.add_argument("--act", type=int, choices=(1, 2), help="run one act; default: both")
    switches = parser.add_argument_group("switches that turn off what an act shows (its check then fails)")
    switches.add_argument("--no-redis", action="store_true", help="act 1: the servers share no Redis")
    switches.add_argument("--no-init-timeout", action="store_true",
                          help="act 2: the servers wait 60 s for connection_init")
    switches.add_argument("--no-auth", action="store_true", help="act 2: the servers accept any token")
    switches.add_argument("--no-depth-limit", action="store_true", help="act 2: queries of any depth run")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    async with auction_servers(trace, args) as servers:
        if args.act in (None, 1):
            await act_everyone_sees_every_bid(trace, servers, args.verbose)
        if args.act in (None, 2):
            await act_bad_clients(trace, servers)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
