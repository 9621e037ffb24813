"""The upstream provider: signs each event and POSTs it until a fan-out server says 200.

Reading order: signature -> envelope -> fanout -> stream -> app -> server -> **upstream** ->
clients -> demo.

    python -m learn_choose.hybrid.upstream --target http://127.0.0.1:8300/webhook \\
        [--target http://127.0.0.1:8301/webhook] [--count 10] [--first 1] [--interval 0.1] \\
        [--secret TEXT] [--attempts 8] [-v | -q]

This stands in for a provider you do not control (a payment processor, a market
data vendor).  What it does is what such providers do:

- every event has an id (``evt_<n>``) that stays the same on every retry, and
  each attempt gets a fresh timestamp and signature (``signature.headers``);
- anything but a 2xx (a 503, a refused connection, a timeout) is retried, with a
  growing pause, on the next ``--target`` (a real provider has one URL and a load
  balancer behind it; the list plays that part), up to ``--attempts`` times;
- events go one at a time, in order: the next waits for the previous one's 200.

A 200 with ``"duplicate": true`` is a success too: an earlier attempt got in
even though its answer was lost.  Exit 0 once every event was accepted, 1 if
one never was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from wirelab_common.errors import CheckFailed, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from . import signature

SYMBOLS = ("ACME", "INIT")


def event_body(n: int) -> bytes:
    """Event ``n`` of the provider's feed: mostly prices, every fifth a news item."""
    if n % 5 == 0:
        return json.dumps({"type": "news", "data": {"n": n, "headline": f"bulletin {n}"}}).encode()
    return json.dumps({"type": "price", "data": {"n": n, "symbol": SYMBOLS[n % 2],
                                                 "price": round(100 + n * 0.25, 2)}}).encode()


async def deliver(client: httpx.AsyncClient, targets: list[str], start: int, msg_id: str, body: bytes,
                  secret: str, attempts: int, trace: Trace) -> tuple[int, dict]:
    """POST one event until a target answers 2xx; return (index of that target, its JSON)."""
    delay = 0.1
    for attempt in range(attempts):
        index = (start + attempt) % len(targets)
        sent = signature.headers(secret, msg_id, int(time.time()), body)
        trace.sent(f"POST {targets[index]} {msg_id} (attempt {attempt + 1})",
                   [f"{name}: {value}" for name, value in sent.items()] + [f"body: {body.decode()}"],
                   peer="fanout", cid=msg_id)
        try:
            response = await client.post(targets[index], content=body,
                                         headers={**sent, "content-type": "application/json"})
        except httpx.HTTPError as exc:
            trace.received(f"{msg_id}: {type(exc).__name__} {exc}: retry in {delay:.1f} s", peer="fanout")
        else:
            trace.received(f"{msg_id}: {response.status_code} {response.text}", peer="fanout", cid=msg_id)
            if response.is_success:
                return index, response.json()
            if response.status_code in (400, 401, 413):
                raise CheckFailed(f"{msg_id} refused with {response.status_code}: {response.text} "
                                  f"(check --secret and the clocks)")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise CheckFailed(f"{msg_id} not accepted after {attempts} attempts: are the fan-out servers up?")


async def run(args: argparse.Namespace) -> None:
    trace = Trace("upstream", verbose=args.verbose, quiet=args.quiet)
    accepted = duplicates = 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0), headers={"user-agent": "upstream"}) as client:
        target = 0
        for n in range(args.first, args.first + args.count):
            index, answer = await deliver(client, args.target, target, f"evt_{n}", event_body(n),
                                          args.secret, args.attempts, trace)
            accepted += 1
            duplicates += bool(answer.get("duplicate"))
            target = index + 1  # round robin, starting after the target that answered
            if args.interval:
                await asyncio.sleep(args.interval)
    trace.state(f"all {accepted} events accepted ({duplicates} answered as duplicates)", always=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.hybrid.upstream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", required=True, help="a fan-out server's /webhook URL")
    parser.add_argument("--count", type=int, default=10, help="events to send")
    parser.add_argument("--first", type=int, default=1, help="number of the first event (evt_<n>)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    parser.add_argument("--secret", default=signature.DEMO_SECRET,
                        help="the secret shared with the fan-out servers")
    parser.add_argument("--attempts", type=int, default=8, help="tries per event before giving up")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    if args.count < 0 or args.first < 0 or args.attempts < 1 or args.interval < 0:
        parser.error("--count, --first and --interval must be >= 0, --attempts >= 1")
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
