"""The demo: one schedule of price events, six clients, each by its own method; a restart; the lab.

    python -m learn_choose.demo [-v] [--act N] [--spread-bursts] [--no-resume] [--new-data-dir]
                                [--no-upgrade-headers]

Act 1 starts the feed server, runs the six clients at once and makes 8 bursts of
3 events.  Every lossless method must show seq 1..24 exactly once, in order;
short polling of ``/poll/latest`` (every 0.1 s, bursts 0.4 s apart, the next
burst only once the poller has seen the last) must show exactly the last event
of each burst, 3, 6, ... 24: the 16 others were overwritten in the same step
that made them, before any poll could see them.

Act 2 restarts the server under the six clients: 2 bursts, SIGTERM, the server
again on the same port with the same ``--data-dir``, a burst at once (while the
clients are still reconnecting) and one more once they are back.  Every lossless
method must show seq 1..12 exactly once, in order: long polling, SSE, WebSocket
and the streamed fetch reconnect with their cursor (``since=``,
``Last-Event-ID``, ``{"resume": N}``), the webhook's cursor is the server's own,
saved with the subscription in the data directory.  Short polling must show
exactly 3, 6, 9, 12.

Act 3 runs the quick lab (``python -m learn_choose.lab --quick``: 3 bursts per
method, nginx default and tuned only) and checks that every lossless method got
every event, that the WebSocket fails through the default nginx and that every
method passes the tuned one.  Exits 0 only if every check passed.

Each switch turns off one mechanism an act shows, so that act's check fails
(exit 1, naming what went wrong):

* ``--spread-bursts`` (act 1): a burst's 3 events are made one at a time, 0.3 s
  apart, slower than the poller: nothing is overwritten between two polls, so
  short polling no longer loses what the check says it must;
* ``--no-resume`` (act 2): a client forgets its cursor when its connection
  breaks (as a reloaded page does) and reconnects from 0: the server replays
  from seq 1, and every client-side cursor method shows seq 1..6 twice;
* ``--new-data-dir`` (act 2): the server comes back with an empty data directory:
  the log and the webhook subscription are gone, and every method loses what
  followed the restart;
* ``--no-upgrade-headers`` (act 3): the tuned nginx without the two
  ``proxy_set_header`` lines that pass ``Upgrade``: the WebSocket fails there too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.nginx_proxy import find_nginx
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.server_cli import add_verbosity
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from . import lab, report
from .methods import METHODS
from .sink import Sink

BURSTS, BURST, GAP, POLL = 8, 3, 0.4, 0.1
SPREAD = 0.3  # --spread-bursts: seconds between the events of one burst (> POLL: the poller sees each)


class ForgetfulSink(Sink):
    """--no-resume: a client that loses its cursor when the connection breaks, and asks from 0 again.

    The client's own code is unchanged: it sends whatever cursor its sink holds, and
    a sink at 0 also takes a replayed seq as new, as a client that forgot would."""

    async def pause_after_failure(self, attempt: int, stop: asyncio.Event, why: str) -> None:
        if self.cursor:
            self.trace.state(f"--no-resume: forgets its cursor (seq {self.cursor})")
            self.cursor = 0
        await super().pause_after_failure(attempt, stop, why)


def spans(seqs: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    out: list[str] = []
    for seq in sorted(set(seqs)):
        if out and int(out[-1].rsplit("-", 1)[-1]) == seq - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{seq}"
        else:
            out.append(str(seq))
    return ", ".join(out)


def what_is_wrong(seqs: list[int], expected: list[int]) -> str:
    """"" if ``seqs == expected``, else what differs: lost seqs, repeated ones, extra ones, order."""
    if seqs == expected:
        return ""
    lost = [s for s in expected if s not in seqs]
    twice = [s for s in set(seqs) if seqs.count(s) > 1]
    extra = [s for s in set(seqs) if s not in expected]
    parts = ([f"lost seq {spans(lost)}"] if lost else []) \
        + ([f"got seq {spans(twice)} twice"] if twice else []) \
        + ([f"got seq {spans(extra)}, which it should not"] if extra else [])
    return "; ".join(parts) or f"out of order: {seqs}"


class Clients:
    """The six clients of one server, running in this event loop until :meth:`finish`."""

    def __init__(self, base: str, trace: Trace, sink_class: type[Sink] = Sink) -> None:
        self.base = base
        self.stop = asyncio.Event()
        self.sinks = {name: sink_class(name, trace.child(name)) for name in METHODS}
        self.tasks = [asyncio.ensure_future(METHODS[name].receive(
            base, self.sinks[name], self.stop, **({"interval": POLL} if name == "short-poll" else {})))
            for name in METHODS]

    async def connected(self, timeout: float) -> None:
        def five() -> bool:  # four held connections (+ /stats itself) and one webhook subscription
            stats = httpx.get(f"{self.base}/stats", timeout=5).json()
            return stats["open"] - 1 + stats["subscriptions"] >= 5
        await eventually_async(five, timeout, "the five connected clients to connect")

    async def burst(self, http: httpx.AsyncClient, trace: Trace, first: int, spread: bool = False) -> None:
        trace.note(f"burst: the server makes seq {first}..{first + BURST - 1}"
                   + (f" one at a time, {SPREAD} s apart (--spread-bursts)" if spread else " in one step"))
        for _ in range(BURST if spread else 1):
            count = 1 if spread else BURST
            (await http.post(f"{self.base}/publish", params={"count": count})).raise_for_status()
            if spread:
                await asyncio.sleep(SPREAD)
        await asyncio.sleep(GAP)
        # The next burst waits (at most 5 s) until the poller has seen this one, so that on a
        # loaded machine a late poll cannot lose a whole burst: the loss left is coalescing's.
        end = first + BURST - 1
        with contextlib.suppress(NotInTime):
            await eventually_async(lambda: self.sinks["short-poll"].cursor >= end, 5,
                                   f"the short poller to see seq {end}")

    async def at(self, last: int, timeout: float) -> None:
        with contextlib.suppress(NotInTime):
            await eventually_async(lambda: all(s.cursor >= last for s in self.sinks.values()), timeout,
                                   "every client at the last event")

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 15)

    def check(self, trace: Trace, last: int, act: str, hint: str) -> None:
        """Lossless: 1..last once each, in order; short polling: exactly the last of each burst."""
        problems = []
        for name, sink in self.sinks.items():
            lossless = METHODS[name].lossless
            expected = list(range(1, last + 1)) if lossless else list(range(BURST, last + 1, BURST))
            wrong = what_is_wrong(sink.seqs, expected)
            if wrong:
                problems.append(f"{name} {wrong}")
                trace.note(f"{name:<10} WRONG: {wrong}")
            elif lossless:
                trace.note(f"{name:<10} all {last} events, in order, none twice "
                           f"({sink.repeats} repeats dropped)")
            else:
                trace.note(f"{name:<10} {len(expected)} of {last}: exactly the last of each burst; the "
                           f"{last - len(expected)} others were overwritten between polls (coalescing)")
        check(not problems, f"{act}: " + "; ".join(problems) + f". {hint}")


async def act_one(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("act 1: one schedule, six deliveries (8 bursts of 3 events, 0.4 s apart)")
    server = start_server([sys.executable, "-m", "learn_choose.server", "--port", "0", "-q"], name="choose")
    try:
        trace.note(f"the feed server listens on {server.url}; every client connects before the first event")
        clients = Clients(server.url, trace)
        await clients.connected(15)
        async with httpx.AsyncClient(timeout=5) as http:
            for burst in range(BURSTS):
                await clients.burst(http, trace, burst * BURST + 1, args.spread_bursts)
        await clients.at(BURSTS * BURST, 10)
        await clients.finish()
    finally:
        server.stop()
    trace.banner("act 1: the checks")
    clients.check(trace, BURSTS * BURST, "act 1", (
        "--spread-bursts made each event in a step of its own, so the poller saw events it should have missed"
        if args.spread_bursts else
        f"A poll every {POLL} s must see every burst (is the machine overloaded?) and never the events "
        "inside one; a lossless method must get each event once: rerun with -v to see its requests"))


def feed_server(data: Path, port: int = 0) -> ManagedProcess:
    return start_server([sys.executable, "-m", "learn_choose.server", "--port", str(port), "-q",
                         "--data-dir", str(data)], name="choose")


async def act_two(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("act 2: the server restarts under its six clients (SIGTERM, same port, same --data-dir)")
    tmp = Path(tempfile.mkdtemp(prefix="wirelab-choose-demo-"))
    server = feed_server(tmp / "data")
    try:
        trace.note(f"the feed server listens on {server.url}, its log and subscriptions in {tmp / 'data'}")
        clients = Clients(server.url, trace, ForgetfulSink if args.no_resume else Sink)
        await clients.connected(15)
        async with httpx.AsyncClient(timeout=5) as http:
            for burst in range(2):
                await clients.burst(http, trace, burst * BURST + 1)
            await clients.at(2 * BURST, 10)
            # In a thread, so the clients live through the downtime: refused connections, backoff.
            code = await asyncio.to_thread(server.stop)
            trace.state(f"the server stopped on SIGTERM (exit {code}): every stream ended, every held poll "
                        "answered; the clients are reconnecting")
            data = tmp / ("fresh" if args.new_data_dir else "data")
            server = await asyncio.to_thread(feed_server, data, server.port)
            trace.state(f"the server is back on port {server.port} with "
                        + ("an EMPTY data directory (--new-data-dir)" if args.new_data_dir else
                           "the same data directory: the log continues at seq 7, the webhook "
                           "subscription and its cursor are still there"))
            await clients.burst(http, trace, 2 * BURST + 1)  # made while the clients are still coming back
            with contextlib.suppress(NotInTime):
                await clients.connected(8)
            await clients.burst(http, trace, 3 * BURST + 1)
        await clients.at(4 * BURST, 4 if args.new_data_dir else 10)
        await clients.finish()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    trace.banner("act 2: the checks")
    clients.check(trace, 4 * BURST, "act 2, across the restart", (
        "--no-resume: the clients reconnected from seq 0 and the server replayed from seq 1 (the webhook's "
        "cursor is the server's, saved with its subscription, so it still resumed)" if args.no_resume else
        "--new-data-dir: the restarted server had neither the log nor the subscription, so cursors "
        "pointed past its newest event and nothing after the restart reached the clients"
        if args.new_data_dir else
        "A lossless client must reconnect with its cursor and get what it missed: rerun with -v and look "
        "for its 'reconnecting' lines"))


async def act_three(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("act 3: the quick lab (python -m learn_choose.lab --quick; the full one: make choose-lab)")
    rows, made, seconds = await lab.run_lab(True, list(METHODS), trace, not args.no_upgrade_headers)
    print(report.table(rows), flush=True)
    trace.note(f"measured {made}, in {seconds:.0f} s")
    for row in rows:
        wanted = row.events if METHODS[row.method].lossless else None
        check(wanted is None or row.received == wanted,
              f"act 3: the lab's {row.method} client got {row.received} of {row.events} events")
    check("FAILS" in next(r.nginx_default for r in rows if r.method == "websocket"),
          "act 3: a WebSocket through nginx without the Upgrade headers should fail, and it did not")
    failed = [f"{r.method}: {r.nginx_tuned}" for r in rows if not r.nginx_tuned.startswith("ok")]
    check(not failed, "act 3: every method should pass through the tuned nginx, but " + "; ".join(failed)
          + (" (--no-upgrade-headers: the tuned nginx no longer passes Upgrade and Connection)"
             if args.no_upgrade_headers else ""))


ACTS = {1: act_one, 2: act_two, 3: act_three}


async def main_async(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose, quiet=args.quiet)
    acts = [args.act] if args.act else list(ACTS)
    if 3 in acts:
        find_nginx()  # act 3 needs it: say so (exit 2) before starting anything
    for act in acts:
        await ACTS[act](trace, args)
    trace.note("all checks passed" if len(acts) == len(ACTS) else f"act {args.act}: all checks passed")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbosity(parser)
    parser.add_argument("--act", type=int, choices=sorted(ACTS), help="run only this act")
    parser.add_argument("--spread-bursts", action="store_true",
                        help="act 1 fails: each event of a burst in a step of its own, so nothing coalesces")
    parser.add_argument("--no-resume", action="store_true",
                        help="act 2 fails: clients reconnect without their cursor (from seq 0)")
    parser.add_argument("--new-data-dir", action="store_true",
                        help="act 2 fails: the server restarts with an empty data directory")
    parser.add_argument("--no-upgrade-headers", action="store_true",
                        help="act 3 fails: the tuned nginx drops the WebSocket Upgrade headers")
    args = parser.parse_args()
    run_main(lambda: main_async(args))


if __name__ == "__main__":
    main()
