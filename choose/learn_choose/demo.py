"""The demo: one schedule of price events, six clients, each by its own method; then the lab.

    python -m learn_choose.demo [-v]

Act 1 starts the feed server, runs the six clients at once and makes 8 bursts of
3 events.  Every lossless method must show seq 1..24 exactly once, in order;
short polling of ``/poll/latest`` (every 0.1 s, bursts 0.4 s apart, the next
burst only once the poller has seen the last) must show exactly the last event
of each burst, 3, 6, ... 24: the 16 others were overwritten in the same step
that made them, before any poll could see them.  Act 2 runs the quick lab
(``python -m learn_choose.lab --quick``) and prints its table.  Exits 0 only
if every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.nginx_proxy import find_nginx
from wirelab_common.processes import start_server
from wirelab_common.server_cli import add_verbosity
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from . import lab, report
from .methods import METHODS
from .sink import Sink

BURSTS, BURST, GAP, POLL = 8, 3, 0.4, 0.1


async def act_one(trace: Trace, verbose: bool) -> None:
    trace.banner("act 1: one schedule, six deliveries (8 bursts of 3 events, 0.4 s apart)")
    server = start_server([sys.executable, "-m", "learn_choose.server", "--port", "0", "-q"], name="choose")
    try:
        base = server.url
        trace.note(f"the feed server listens on {base}; every client connects before the first event")
        stop = asyncio.Event()
        sinks = {name: Sink(name, trace.child(name)) for name in METHODS}
        tasks = [asyncio.ensure_future(METHODS[name].receive(
            base, sinks[name], stop, **({"interval": POLL} if name == "short-poll" else {})))
            for name in METHODS]

        def connected() -> bool:
            stats = httpx.get(f"{base}/stats", timeout=5).json()
            return stats["open"] - 1 + stats["subscriptions"] >= 5  # four held + one subscription
        await eventually_async(connected, 15, "the five connected clients to connect")
        async with httpx.AsyncClient(timeout=5) as http:
            for burst in range(BURSTS):
                first = burst * BURST + 1
                trace.note(f"burst {burst + 1}: the server makes seq {first}..{first + BURST - 1}")
                (await http.post(f"{base}/publish", params={"count": BURST})).raise_for_status()
                await asyncio.sleep(GAP)
                # The next burst waits (at most 5 s) until the poller has seen this one, so that on a
                # loaded machine a late poll cannot lose a whole burst: the loss left is coalescing's.
                end = first + BURST - 1
                await eventually_async(lambda end=end: sinks["short-poll"].cursor >= end, 5,
                                       f"the short poller to see seq {end}")
        last = BURSTS * BURST
        with contextlib.suppress(NotInTime):
            await eventually_async(lambda: all(s.cursor >= last for s in sinks.values()), 10,
                                   "every client at the last event")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
    finally:
        server.stop()
    trace.banner("the checks")
    for name, sink in sinks.items():
        if METHODS[name].lossless:
            check(sink.seqs == list(range(1, last + 1)),
                  f"{name} received {sink.seqs}, not seq 1..{last} once each in order; rerun with -v to see "
                  f"its requests, and look for a 'reconnecting' line saying why")
            trace.note(f"{name:<10} all {last} events, in order, none twice ({sink.repeats} repeats dropped)")
        else:
            expected = list(range(BURST, last + 1, BURST))
            check(sink.seqs == expected,
                  f"{name} received {sink.seqs}, expected exactly the last of each burst {expected}: "
                  f"a poll every {POLL} s must see every burst (is the machine overloaded?) and never the "
                  f"events inside one")
            trace.note(f"{name:<10} {len(expected)} of {last}: exactly the last of each burst; the "
                       f"{last - len(expected)} others were overwritten between polls (coalescing)")


async def act_two(trace: Trace) -> None:
    trace.banner("act 2: the quick lab (python -m learn_choose.lab --quick; the full one: make choose-lab)")
    rows, made, seconds = await lab.run_lab(True, list(METHODS), trace)
    print(report.table(rows), flush=True)
    trace.note(f"measured {made}, in {seconds:.0f} s")
    for row in rows:
        wanted = row.events if METHODS[row.method].lossless else None
        check(wanted is None or row.received == wanted,
              f"the lab's {row.method} client got {row.received} of {row.events} events")
    check("FAILS" in next(r.nginx_default for r in rows if r.method == "websocket"),
          "a WebSocket through nginx without the Upgrade headers should fail, and it did not")
    check(all(r.nginx_tuned.startswith("ok") for r in rows),
          "every method should pass through the tuned nginx: " + "; ".join(r.nginx_tuned for r in rows))


async def main_async(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose, quiet=args.quiet)
    find_nginx()  # act 2 needs it: say so (exit 2) before starting anything
    await act_one(trace, args.verbose)
    await act_two(trace)
    trace.note("all checks passed")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbosity(parser)
    args = parser.parse_args()
    run_main(lambda: main_async(args))


if __name__ == "__main__":
    main()
