"""The pubsub demo: ``make demo-pubsub`` (``python -m learn_pubsub.demo [-v] [--act N] [--no-...]``).

Reading order: read this last; it drives everything else in the folder.

Five acts, each checked, so the demo is also a test (CI runs it as one):

1. **RESP by hand.**  Our own client (``resp.py``, ``resp_client.py``)
   subscribes and publishes; every command and push is shown as the exact
   bytes on the wire.
2. **Fan-out and patterns.**  Three redis-py subscribers: one on
   ``orders.created``, one on the pattern ``orders.*``, one on ``users.created``.
   Each gets exactly the messages its subscription matches.
3. **At most once.**  A subscriber goes offline for three messages: PUBLISH
   reports 0 receivers and they are gone for it.  A subscriber that stops
   reading is cut off by Redis's ``client-output-buffer-limit pubsub``.
4. **The durable variant.**  The same orders through a Redis Stream with a
   consumer group: a consumer that was down reads everything it missed; a
   consumer killed with SIGKILL mid-batch leaves pending entries that another
   consumer claims (XAUTOCLAIM) and processes.
5. **Redis restarts.**  An order is added to a stream while one group's
   consumer (shipping) is down; then Redis is killed (kill -9) and restarted.  A
   Pub/Sub subscriber and a Streams consumer both reconnect with backoff; the
   message published during the outage is lost for Pub/Sub, and shipping, back
   after the restart, reads the order added *before* the crash, because Redis
   kept the stream and its groups in its AOF.  ``--no-aof`` restarts a Redis that
   keeps nothing on disk: then that check fails (exit 1) and says so, which is
   how we know it tests persistence and not luck.

Every check can fail, and one switch per act shows it: each turns off the
mechanism its act shows, and the act's check then fails (exit 1, saying what
went wrong).  ``--act N`` runs act N alone.

- ``--no-subscribe`` (act 1): our client connects but never sends SUBSCRIBE;
- ``--no-psubscribe`` (act 2): audit sends SUBSCRIBE ``orders.*``, a channel
  of that literal name, instead of PSUBSCRIBE, the pattern;
- ``--no-output-limit`` (act 3): ``client-output-buffer-limit pubsub 0 0 0``,
  so Redis never cuts the slow subscriber off (it buffers all of it);
- ``--no-claim`` (act 4): the rescuing consumer never runs XAUTOCLAIM, so the
  entries the killed consumer held stay pending, unprocessed;
- ``--no-aof`` (act 5): see above.

Redis: ``REDIS_URL`` if set, else a throwaway ``redis-server`` on a free port.
Acts 3 (the output-buffer part) and 5 change or restart the server, so they
always use a private ``redis-server`` of their own.  Exit 0 when every check
passed, 1 when one failed, 2 when Redis cannot be had, with what to do.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from wirelab_common.errors import check, run_main
from wirelab_common.ports import free_port
from wirelab_common.processes import start_process
from wirelab_common.redis_server import redis_url, start_redis
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from .publisher import Publisher
from .resp_client import RespClient
from .slow_subscriber import run_lesson
from .stream_producer import StreamPublisher
from .streams import StreamConsumer
from .subscriber import Subscriber

PY = sys.executable


async def act_resp(trace: Trace, url: str, subscribe: bool = True) -> None:
    trace.banner("Act 1: RESP by hand -- the bytes of SUBSCRIBE, PUBLISH and a pushed message")
    parts = urlsplit(url)
    # verbose=True always: the bytes are the lesson.
    sub = await RespClient.connect(parts.hostname, parts.port, trace=Trace("resp-sub", verbose=True))
    pub = await RespClient.connect(parts.hostname, parts.port, trace=Trace("resp-pub", verbose=True))
    try:
        if subscribe:
            await sub.subscribe("greetings")
        else:
            trace.note("--no-subscribe: resp-sub is connected, but sends no SUBSCRIBE")
        receivers = await pub.publish("greetings", "hello, wire")
        check(receivers == 1, f"PUBLISH should reach our one subscriber, reached {receivers}"
              + ("" if subscribe else " (--no-subscribe: Redis has no subscriber to push it to)"))
        message = await sub.next_message()
        check(message.data == b"hello, wire", f"unexpected message {message}")
    finally:
        await sub.close()
        await pub.close()


def quiet(name: str, verbose: bool) -> Trace:
    return Trace(name, verbose=verbose)


async def unsubscribed(url: str, channel: str, timeout: float = 5.0) -> None:
    """Wait until Redis counts no subscriber on ``channel`` (PUBSUB NUMSUB)."""
    async with aioredis.from_url(url) as admin:
        async def nobody() -> bool:
            return not dict(await admin.pubsub_numsub(channel)).get(channel.encode(), 0)

        await eventually_async(nobody, timeout, f"no subscriber left on {channel}", interval=0.02)


async def acknowledged(url: str, stream: str, group: str, timeout: float = 5.0) -> None:
    """Wait until ``group`` has no pending entry: its consumer's XACKs reached Redis."""
    async with aioredis.from_url(url) as admin:
        async def none_pending() -> bool:
            return not (await admin.xpending(stream, group))["pending"]

        await eventually_async(none_pending, timeout, f"no entry pending for {group}", interval=0.02)


async def act_fan_out(trace: Trace, url: str, verbose: bool, psubscribe: bool = True) -> None:
    trace.banner("Act 2: fan-out -- each subscriber gets what its channel or pattern matches")
    # --no-psubscribe: the same text as a channel name, which no PUBLISH names
    audit = {"patterns": ["orders.*"]} if psubscribe else {"channels": ["orders.*"]}
    subs = [Subscriber(url, channels=["orders.created"], name="billing", trace=quiet("billing", verbose)),
            Subscriber(url, **audit, name="audit", trace=quiet("audit", verbose)),
            Subscriber(url, channels=["users.created"], name="crm", trace=quiet("crm", verbose))]
    for sub in subs:
        await sub.start()
    async with Publisher(url, Trace("pub", verbose=verbose)) as pub:
        for topic, payload in [("orders.created", {"order": 1}), ("orders.paid", {"order": 1}),
                               ("users.created", {"user": "ada"}), ("orders.created", {"order": 2})]:
            await pub.publish(topic, payload)
        ids = {r.id: r.topic for r in pub.receipts}
    expected = {"billing": 2, "audit": 3, "crm": 1}
    for sub in subs:
        try:
            await sub.wait_for_count(expected[sub.name], timeout=3)
        except TimeoutError:
            pass  # the check below says what arrived
        await sub.close()
        topics = [ids[i] for i in sub.received_ids]
        trace.note(f"{sub.name:<8} got {topics}")
        how = "" if psubscribe or sub.name != "audit" else (
            " (--no-psubscribe: SUBSCRIBE orders.* is a channel named 'orders.*', not a pattern)")
        check(len(topics) == expected[sub.name],
              f"{sub.name} should get {expected[sub.name]} message(s), got {topics}{how}")


async def act_at_most_once(trace: Trace, url: str, verbose: bool, output_limit: bool = True) -> None:
    trace.banner("Act 3: at most once -- an offline subscriber misses messages, a slow one is cut off")
    async with Publisher(url, Trace("pub", verbose=verbose)) as pub:
        sub = Subscriber(url, channels=["orders.created"], name="mobile", trace=quiet("mobile", verbose))
        await sub.start()
        await pub.publish("orders.created", {"n": 1})
        await sub.wait_for_count(1)
        first = sub.received_ids
        await sub.close()
        # Redis drops a closed connection's subscriptions a moment later; until then PUBLISH
        # would still count it (1 receiver) and the message would be lost all the same.
        await unsubscribed(url, "orders.created")
        trace.note("mobile goes offline (a phone in a tunnel); three orders are published")
        for n in (2, 3, 4):
            await pub.publish("orders.created", {"n": n})
        sub = Subscriber(url, channels=["orders.created"], name="mobile", trace=quiet("mobile", verbose))
        await sub.start()
        await pub.publish("orders.created", {"n": 5})
        await sub.wait_for_count(1)
        await sub.close()
        published = [r.id for r in pub.receipts]
        missed = [i for i in published if i not in first + sub.received_ids]
        check(missed == published[1:4], f"mobile should miss exactly {published[1:4]}, missed {missed}")
        check([r.receivers for r in pub.receipts][1:4] == [0, 0, 0], "PUBLISH should report 0 receivers")
        trace.note(f"mobile missed {missed}: PUBLISH said 0 receivers, and Redis kept nothing")
    proc, private = start_redis()
    limit = {} if output_limit else {"limit": "pubsub 0 0 0"}  # --no-output-limit: 0 is "no limit"
    with proc:
        lesson = await run_lesson(private, channel="firehose", trace=Trace("slow", verbose=verbose), **limit)
    missed, total = len(lesson.slow_missed), len(lesson.published)
    check(lesson.closed_by_server and missed > 0 and len(lesson.fast_received) == total,
          f"the slow subscriber should be cut off and miss messages, the fast one none: it was "
          f"{'' if lesson.closed_by_server else 'not '}cut off and missed {missed} of {total}"
          + ("" if output_limit else " (--no-output-limit: Redis buffered everything for it)"))
    trace.note(f"Redis disconnected the slow subscriber, which missed {missed} of {total}; "
               f"the fast one got all {len(lesson.fast_received)}")


async def act_streams(trace: Trace, url: str, workdir: Path, verbose: bool, claim: bool = True) -> None:
    trace.banner("Act 4: Streams -- a consumer group misses nothing; a dead consumer's work is claimed")
    stream = "orders-demo"
    first = StreamConsumer(url, stream, "billing", "c1", trace=quiet("c1", verbose))
    await first.start()  # creates the group
    await first.close()
    trace.note("billing's consumer is down; five orders are added to the stream")
    publisher = StreamPublisher(url, Trace("xadd", verbose=verbose))
    try:
        for n in range(5):
            await publisher.publish(stream, {"order": n})
        again = StreamConsumer(url, stream, "billing", "c1", trace=quiet("c1", verbose))
        await again.start()
        await again.wait_processed(5)
        await again.close()
        published = [envelope_id for _, envelope_id in publisher.entries]
        check(again.processed_ids == published, f"c1 should read all five in order: {again.processed_ids}")
        trace.note("c1 came back and read all five, in order: nothing was lost")

        done = workdir / "processed.txt"
        argv = [PY, "-m", "learn_pubsub.streams", "consume", "--redis-url", url, "--stream", stream,
                "--group", "billing", "--consumer", "c2", "--processed-file", str(done),
                "--process-delay", "0.3", "--batch", "10"]
        c2 = start_process(argv, name="c2", ready_line="consuming", echo=True)
        for n in range(5, 15):
            await publisher.publish(stream, {"order": n})
        await eventually_async(lambda: len(processed(done)) >= 2, 15, "c2 processed two entries")
        trace.note("SIGKILL to c2 in the middle of its batch: its entries stay pending under its name")
        c2.kill()
        # --no-claim: an idle time no entry reaches, so c3 never runs XAUTOCLAIM
        rescuer = StreamConsumer(url, stream, "billing", "c3", trace=quiet("c3", verbose),
                                 claim_idle_ms=500 if claim else 10**9, processed_file=str(done))
        await rescuer.start()
        ids = [envelope_id for _, envelope_id in publisher.entries][5:]
        try:
            await eventually_async(lambda: set(ids) <= set(processed(done)), 8, "all ten orders processed")
        except NotInTime:
            pass  # the check below names what is missing
        await rescuer.close()
        left = [i for i in ids if i not in processed(done)]
        check(not left and rescuer.claimed > 0,
              f"c3 should claim c2's pending entries and process them; {len(left)} never were "
              f"({' '.join(left)}), c3 claimed {rescuer.claimed}"
              + ("" if claim else " (--no-claim: nobody takes over a dead consumer's entries)"))
        trace.note(f"c3 claimed {rescuer.claimed} entries from dead c2: all ten orders processed")
    finally:
        await publisher.aclose()


def processed(path: Path) -> list[str]:
    """The envelope ids in a --processed-file, in order."""
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


async def act_restart(trace: Trace, workdir: Path, verbose: bool, aof: bool = True) -> None:
    trace.banner("Act 5: Redis restarts -- Pub/Sub loses the gap, Streams does not")
    port = free_port()
    aof_dir = str(workdir / "aof") if aof else None  # --no-aof: nothing on disk, to see the check fail
    proc, url = start_redis(port, aof_dir=aof_dir)
    # Seed 2 makes the subscriber's first reconnect wait 1.9 s (uniform(0, 2.0) draws 0.956 * 2):
    # long enough that the message published right after the restart finds nobody subscribed.
    sub = Subscriber(url, channels=["orders.created"], name="live", trace=quiet("live", verbose),
                     backoff_base=2.0, backoff_max=2.0, rng=random.Random(2))
    billing = StreamConsumer(url, "orders", "billing", "c1", trace=quiet("c1", verbose),
                             backoff_base=0.2, backoff_max=1.0)
    shipping = StreamConsumer(url, "orders", "shipping", "s1", trace=quiet("s1", verbose))
    stream_pub = StreamPublisher(url, Trace("xadd", verbose=verbose))
    try:
        await sub.start()
        await billing.start()
        await shipping.start()  # creates shipping's group...
        await shipping.close()  # ...whose consumer then goes down (a deploy)
        trace.note("shipping's consumer is down; an order is added to the stream before the crash")
        await stream_pub.publish("orders", {"order": "before the crash"})
        before = stream_pub.entries[-1][1]
        await billing.wait_processed(1, timeout=10)
        await acknowledged(url, "orders", "billing")  # so billing has nothing to redo after the crash
        how = "with its AOF" if aof else "WITHOUT persistence (--no-aof)"
        trace.note(f"redis-server is killed (kill -9); it comes back on the same port {how}")
        proc.kill()
        proc, _ = start_redis(port, aof_dir=aof_dir)
        await sub.wait_until(lambda s: not s.is_subscribed, timeout=10)  # it saw Redis go
        async with Publisher(url, Trace("pub", verbose=verbose)) as pub:
            gap = await pub.publish("orders.created", {"during": "outage"})
            await sub.wait_subscribed(timeout=10)
            await pub.publish("orders.created", {"after": "outage"})
            await sub.wait_for_count(1, timeout=10)
        check(gap == 0 and len(sub.received_ids) == 1,
              f"Pub/Sub: the outage message should be lost (receivers={gap}, got {sub.received_ids})")
        trace.note("shipping's consumer comes back: the order added before the crash must be there")
        shipping = StreamConsumer(url, "orders", "shipping", "s1", trace=quiet("s1", verbose))
        await shipping.start(timeout=10)
        try:
            await shipping.wait_processed(1, timeout=3)
        except TimeoutError:
            pass
        check(shipping.processed_ids == [before],
              f"Streams: the order {before}, added before the crash, did not survive the restart "
              f"(shipping read {shipping.processed_ids or 'nothing'}): Redis kept no copy on disk"
              + ("; this run had --no-aof, so that is the expected failure" if not aof else ""))
        after = await stream_pub.publish("orders", {"order": "after the restart"}, retry=True)
        await billing.wait_processed(2, timeout=10)  # billing's consumer reconnected by itself
        check(billing.processed[-1].entry_id == after, f"billing should read {after}: {billing.processed}")
        trace.note("Pub/Sub lost the message published before the subscriber was back; the stream "
                   "kept the order through the crash, and shipping read it when it came back")
    finally:
        await sub.close()
        await billing.close()
        await shipping.close()
        await stream_pub.aclose()
        proc.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="the bytes of every command")
    parser.add_argument("--act", type=int, choices=range(1, 6), help="run this act alone")
    # One switch per act: each turns off what its act shows, and that act's check must then fail.
    parser.add_argument("--no-subscribe", action="store_true",
                        help="act 1: never SUBSCRIBE; the PUBLISH check must fail (exit 1)")
    parser.add_argument("--no-psubscribe", action="store_true",
                        help="act 2: audit SUBSCRIBEs to 'orders.*' as a channel; its check must fail")
    parser.add_argument("--no-output-limit", action="store_true",
                        help="act 3: no client-output-buffer-limit; the slow-subscriber check must fail")
    parser.add_argument("--no-claim", action="store_true",
                        help="act 4: no XAUTOCLAIM; the dead consumer's entries stay pending: must fail")
    parser.add_argument("--no-aof", action="store_true",
                        help="act 5 restarts a Redis that keeps nothing on disk: its Streams check must "
                             "fail (exit 1), which shows the check can fail")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    runs = lambda act: args.act in (None, act)  # noqa: E731
    with tempfile.TemporaryDirectory() as workdir, redis_url() as url:
        trace.state(f"redis at {url}")
        if runs(1):
            await act_resp(trace, url, subscribe=not args.no_subscribe)
        if runs(2):
            await act_fan_out(trace, url, args.verbose, psubscribe=not args.no_psubscribe)
        if runs(3):
            await act_at_most_once(trace, url, args.verbose, output_limit=not args.no_output_limit)
        if runs(4):
            await act_streams(trace, url, Path(workdir), args.verbose, claim=not args.no_claim)
        if runs(5):
            await act_restart(trace, Path(workdir), args.verbose, aof=not args.no_aof)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
