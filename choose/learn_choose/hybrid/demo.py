"""The hybrid demo: ``python -m learn_choose.hybrid.demo [-v]``.

Reading order: read this last; it drives everything else in the folder.

It starts a private redis-server (never the machine's own on 6379), two fan-out
servers s1 and s2 sharing it, four SSE subscribers (alice and bob on s1, carol
and dave on s2) and one WebSocket client, the trader, on s2.  Three acts, each
checked, so the demo is also a test:

1. **Fan-out across two processes.**  The upstream provider (a process) sends N
   signed webhooks, alternating between s1 and s2; meanwhile the trader sends M
   orders over its WebSocket to s2.  Check: every SSE subscriber, on both
   servers, got all N+M events, in one order, each once; so did the trader's feed.
2. **Bad deliveries.**  A forged signature and a stale timestamp get 401; a
   captured delivery replayed inside the window gets 200 "duplicate" and is not
   fanned out again.  Check: after one more real event, every subscriber has
   N+M+1 events (the replay would have made one more), and both servers still serve.
3. **A fan-out server dies.**  While the provider sends K more events, s1 is
   killed (SIGKILL, a crash).  alice and bob reconnect to s2 with
   ``Last-Event-ID``; the provider's posts to s1 fail and are retried on s2.
   Check: every subscriber has every event, in order, none twice: the kill cost
   connections, not events.  Then s1 comes back on its port and a subscriber that
   resumes there from the first id gets everything (read from Redis).

Exit 0 when every check passed, 1 when one failed (with what to look at), 2 when
the machine lacks something (redis-server, a free port).

Two switches turn a mechanism off; the check that depends on it must then fail:
``--no-dedup`` (servers append a repeated webhook id again: act 2 fails) and
``--no-last-event-id`` (subscribers reconnect without it: act 3 fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time

import httpx

from wirelab_common.errors import CheckFailed, SetupError, check, run_main
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.redis_server import start_redis
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from . import signature
from .clients import SseSubscriber, WsSender
from .upstream import event_body

PY = sys.executable
WAIT = 30.0  # seconds for any awaited delivery; generous, the machine may be loaded


def server_argv(name: str, redis: str, args: argparse.Namespace, port: int = 0) -> list[str]:
    argv = [PY, "-m", "learn_choose.hybrid.server", "--port", str(port), "--redis-url", redis,
            "--server-id", name, "--retry-ms", "1000"]
    return argv + (["-v"] if args.verbose else []) + (["--no-dedup"] if args.no_dedup else [])


async def run_upstream(targets: list[str], first: int, count: int, args: argparse.Namespace,
                       interval: float = 0.05) -> ManagedProcess:
    """Start the provider for events first..first+count-1; returns at once (await :func:`finished`)."""
    argv = [PY, "-m", "learn_choose.hybrid.upstream", "--first", str(first), "--count", str(count),
            "--interval", str(interval)] + [arg for url in targets for arg in ("--target", f"{url}/webhook")]
    return start_process(argv + (["-v"] if args.verbose else []), name="upstream", echo=True)


async def finished(proc: ManagedProcess, timeout: float = 60.0) -> None:
    try:
        code = await asyncio.to_thread(proc.popen.wait, timeout)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
        proc.stop()
        raise CheckFailed(f"the upstream provider did not finish within {timeout:.0f} s") from None
    check(code == 0, f"the upstream provider failed (exit {code}); its output above says which event")


def check_feeds(subscribers: list[SseSubscriber], sources: list[str], what: str) -> None:
    """Every subscriber got exactly ``sources`` (as a set), once each, all in one and the same order."""
    want = sorted(sources)
    reference = None
    for sub in subscribers:
        got = [json.loads(event.data)["source"] for event in sub.feed]
        dupes = sorted({s for s in got if got.count(s) > 1})
        check(not dupes, f"{what}: {sub.name} got {dupes} more than once "
                         f"(is the duplicate check on? look for 'duplicate' in the servers' lines)")
        missing = sorted(set(want) - set(got))
        check(not missing, f"{what}: {sub.name} never got {missing} (connected to {sub.connects}; "
                           f"did it resume with Last-Event-ID?)")
        check(sorted(got) == want, f"{what}: {sub.name} got unexpected events {sorted(set(got) - set(want))}")
        ids = [event.id for event in sub.feed]
        check(ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))),
              f"{what}: {sub.name}'s ids are out of order: {ids}")
        if reference is None:
            reference = ids
        check(ids == reference, f"{what}: {sub.name} saw another order than {subscribers[0].name}")


async def act_fanout(trace: Trace, s1: ManagedProcess, s2: ManagedProcess, subs: list[SseSubscriber],
                     trader: WsSender, args: argparse.Namespace) -> list[str]:
    trace.banner(f"Act 1: {args.count} webhooks in (alternating s1/s2), {args.messages} WebSocket orders in "
                 "(s2); every SSE subscriber on both servers gets all of them")
    upstream = await run_upstream([s1.url, s2.url], 1, args.count, args)
    sent_at, acked_in = {}, []
    for n in range(1, args.messages + 1):
        sent_at[f"ws:trader/{n}"] = time.monotonic()
        ack = await trader.send("order", {"side": "buy" if n % 2 else "sell", "qty": n * 10})
        acked_in.append(time.monotonic() - sent_at[f"ws:trader/{n}"])
        check(not ack["duplicate"], f"the trader's order {n} was taken for a duplicate")
        await asyncio.sleep(0.07)
    await finished(upstream)
    sources = [f"webhook:evt_{n}" for n in range(1, args.count + 1)] + \
              [f"ws:trader/{n}" for n in range(1, args.messages + 1)]
    await wait_for_last(subs, f"webhook:evt_{args.count}", f"ws:trader/{args.messages}")
    check_feeds(subs, sources, "act 1")
    try:
        await eventually_async(lambda: len(trader.events) >= len(sources), WAIT, "the trader's feed")
    except NotInTime:
        pass  # the check below says what it got
    got = sorted(message["source"] for message in trader.events)
    check(got == sorted(sources), f"act 1: the trader's own WebSocket feed has {len(got)} events, "
                                  f"not {len(sources)}")
    trace.note(f"OK: 4 SSE subscribers (2 per server) and the trader each got all {len(sources)} events, "
               "once, in the same order (the Redis stream's)")
    crossed = [event.at - sent_at[source] for event in subs[0].feed
               if (source := json.loads(event.data)["source"]) in sent_at]
    trace.note(f"timing of the {len(acked_in)} orders: sent -> ack median "
               f"{statistics.median(acked_in) * 1000:.1f} ms, sent -> alice's SSE on s1 (through Redis) "
               f"median {statistics.median(crossed) * 1000:.1f} ms")
    return sources


async def act_bad_deliveries(trace: Trace, s1: ManagedProcess, s2: ManagedProcess,
                             subs: list[SseSubscriber], sources: list[str], args: argparse.Namespace) -> None:
    trace.banner("Act 2: a forged signature, a stale timestamp, a replay inside the window")
    body, now = event_body(3), int(time.time())
    attempts = [
        ("forged (signed with a guessed secret)", s1,
         signature.headers("guessed-secret", "evt_666", now, body), 401),
        ("stale (a capture from 10 minutes ago)", s2,
         signature.headers(signature.DEMO_SECRET, "evt_3", now - 600, body), 401),
        ("replayed evt_3 inside the window", s2, signature.headers(signature.DEMO_SECRET, "evt_3", now, body),
         200),
    ]
    async with httpx.AsyncClient(timeout=5) as client:
        for what, server, headers, status in attempts:
            trace.note(f"attacker -> {server.url}/webhook: {what}")
            response = await client.post(f"{server.url}/webhook", content=body, headers=headers)
            trace.note(f"answer: {response.status_code} {response.text}")
            check(response.status_code == status, f"act 2: {what} got {response.status_code}, not {status}")
            if status == 200:
                check(response.json()["duplicate"], "act 2: the replay was not recognised as a duplicate "
                                                    "(was --no-dedup given?)")
    # A duplicate fanned out would reach every subscriber before the next real event does.
    trace.note("one more real event; if the replay had been fanned out, it would arrive first")
    await finished(await run_upstream([s2.url], args.count + 1, 1, args))
    sources.append(f"webhook:evt_{args.count + 1}")
    await wait_for_last(subs, sources[-1])
    check_feeds(subs, sources, "act 2")
    async with httpx.AsyncClient(timeout=5) as client:
        for server in (s1, s2):
            check((await client.get(f"{server.url}/healthz")).status_code == 200,
                  f"act 2: {server.name} stopped answering after the bad deliveries")
    trace.note("OK: both refused with 401, the replay answered 200 'duplicate' and fanned out to nobody")


async def wait_for_last(subs: list[SseSubscriber], *sources: str) -> None:
    """Wait until every subscriber got each of ``sources`` (the last event of each sender).

    The stream has one order, so once a sender's last event is in, everything before it
    should be too: :func:`check_feeds` then says exactly what is missing, if anything.
    """
    for sub in subs:
        def arrived(sub: SseSubscriber = sub) -> bool:
            got = {json.loads(event.data)["source"] for event in sub.feed}
            return all(source in got for source in sources)
        try:
            await eventually_async(arrived, WAIT, f"{sub.name} got {', '.join(sources)}")
        except NotInTime as exc:
            raise CheckFailed(f"{exc} (connected to {sub.connects}); the servers' lines above show "
                              "where the event stopped") from None


async def act_kill(trace: Trace, redis: str, s1: ManagedProcess, s2: ManagedProcess,
                   subs: list[SseSubscriber], sources: list[str], args: argparse.Namespace) -> None:
    trace.banner("Act 3: s1 is killed (SIGKILL) while the provider sends; its subscribers resume on s2")
    first, count = args.count + 2, args.count  # evt_1..N in act 1, evt_N+1 in act 2
    upstream = await run_upstream([s1.url, s2.url], first, count, args, interval=0.1)
    alice = subs[0]
    await wait_for_last([alice], f"webhook:evt_{first + 2}")
    trace.note(f"kill -9 s1 (pid {s1.pid}) after alice got {len(alice.feed)} events")
    s1.kill()
    await finished(upstream, 90)
    sources += [f"webhook:evt_{n}" for n in range(first, first + count)]
    await wait_for_last(subs, sources[-1])
    check_feeds(subs, sources, "act 3")
    for sub in subs[:2]:
        check(sub.connects[-1] == s2.url, f"act 3: {sub.name} is not on s2 after the kill: {sub.connects}")
    trace.note(f"OK: alice and bob resumed on s2 with Last-Event-ID; all {len(sources)} events, none twice")
    retried = upstream.output().count("(attempt 2)")
    duplicates = re.search(r"\((\d+) answered as duplicates\)", upstream.output())
    trace.note(f"lost on the kill: alice's and bob's connections (resumed on s2); {retried} webhook "
               f"post(s) to s1 failed and went again to s2 ({duplicates.group(1) if duplicates else '?'} "
               "of them had got in before the kill: answered 'duplicate'); no accepted event")

    port = int(s1.url.rsplit(":", 1)[1])
    trace.note(f"s1 comes back on port {port}; eve resumes there from the first event's id")
    back = start_server(server_argv("s1", redis, args, port), name="s1", echo=True)
    try:
        eve = SseSubscriber("eve", [back.url], trace.child("eve"))
        eve.parser.last_id = subs[0].feed[0].id  # as if she had seen only the first event
        await eve.start()
        await wait_for_last([eve], sources[-1])
        await eve.close()
        got = [json.loads(e.data)["source"] for e in eve.feed]
        check(got == [json.loads(e.data)["source"] for e in subs[0].feed][1:],
              "act 3: the restarted s1 did not replay from Redis what eve missed")
        trace.note(f"OK: the restarted s1 replayed {len(got)} events it never held itself (XRANGE on Redis)")
    finally:
        back.stop()


async def demo(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose)
    trace.banner("The hybrid: webhook in -> Redis Streams between two fan-out servers -> SSE and WebSocket")
    try:
        redis_proc, redis = start_redis()  # private, on a free port: never the machine's 6379
    except SetupError as exc:  # its hint offers REDIS_URL, which this demo does not use
        raise SetupError(str(exc).split("\n")[0], "install it (Debian: `apt-get install redis-server`): the "
                         "demo starts a private redis-server of its own, whatever REDIS_URL says") from None
    started: list[ManagedProcess] = [redis_proc]
    subs: list[SseSubscriber] = []
    trader = None
    try:
        trace.note(f"private redis-server at {redis}")
        s1 = start_server(server_argv("s1", redis, args), name="s1", echo=True)
        started.append(s1)
        s2 = start_server(server_argv("s2", redis, args), name="s2", echo=True)
        started.append(s2)
        resume = not args.no_last_event_id
        if not resume:
            trace.note("--no-last-event-id: subscribers reconnect without it (act 3 should fail)")
        for name, servers in (("alice", [s1.url, s2.url]), ("bob", [s1.url, s2.url]),
                              ("carol", [s2.url, s1.url]), ("dave", [s2.url, s1.url])):
            # Every subscriber says when it connects; only alice's events are shown, one line each.
            subs.append(await SseSubscriber(name, servers, trace.child(name), resume,
                                            show_events=name == "alice").start())
        trader = await WsSender("trader", s2.url, trace.child("trader")).start()

        sources = await act_fanout(trace, s1, s2, subs, trader, args)
        await act_bad_deliveries(trace, s1, s2, subs, sources, args)
        await act_kill(trace, redis, s1, s2, subs, sources, args)
        trace.note("all checks passed")
    finally:
        if trader is not None:
            await trader.close()
        for sub in subs:
            await sub.close()
        for proc in reversed(started):
            proc.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_choose.hybrid.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="headers, SSE lines and frames")
    parser.add_argument("--count", type=int, default=10, help="webhook events per act (N)")
    parser.add_argument("--messages", type=int, default=5, help="WebSocket orders from the trader (M)")
    parser.add_argument("--no-dedup", action="store_true", help="servers without the duplicate check")
    parser.add_argument("--no-last-event-id", action="store_true", help="subscribers resume without it")
    args = parser.parse_args(argv)
    if args.count < 4 or args.messages < 1:
        parser.error("--count must be >= 4 and --messages >= 1")
    run_main(lambda: demo(args))


if __name__ == "__main__":
    main()
