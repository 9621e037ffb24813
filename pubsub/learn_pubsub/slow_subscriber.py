"""The slow subscriber: what Redis does to a subscriber that stops reading.

Reading order: resp -> resp_client -> envelope -> publisher -> subscriber ->
**slow_subscriber** -> streams.

    python -m learn_pubsub.slow_subscriber --redis-url redis://127.0.0.1:PORT/0 \\
        [--limit 'pubsub 64kb 32kb 2'] [--count 2000] [--size 8192] [-v]

(It changes the server's ``client-output-buffer-limit`` for the lesson and puts
the old value back afterwards: point it at a throwaway server, not production.)

PUBLISH never waits for subscribers.  Redis appends the message to each
subscriber's *output buffer* and writes it out as fast as that client's socket
takes it.  A subscriber that reads slower than the publisher publishes makes its
buffer grow, inside Redis's memory.  Redis bounds it per client class
(https://redis.io/docs/latest/develop/reference/clients/#output-buffer-limits)::

    CONFIG SET client-output-buffer-limit "pubsub 64kb 32kb 2"
                                           class  hard soft seconds

Over the hard limit, or over the soft limit for longer than the seconds, Redis
closes the connection, and its log says ``scheduled to be closed ASAP for
overcoming of output buffer limits``.  (The default for pubsub is 32mb 8mb 60.)
Everything that was in the buffer, and every later message, is lost for that
subscriber: the server chose to protect its memory and the other clients over
one slow reader.  Publishers notice nothing except that PUBLISH now counts one
receiver fewer.

To be reliably slow, the subscriber here is written on a bare socket with our own
codec (resp.py): redis-py always reads what arrives.  It connects with a tiny
receive buffer, sends ``CLIENT SETNAME slow-sub`` and ``SUBSCRIBE``, reads the
confirmation, and then reads nothing until the flood is over.  Meanwhile a normal :class:`Subscriber`
on the same channel keeps up and receives every message.

Why the flood is megabytes, not 64 KB: before Redis's own buffer grows at all, the
kernel's socket buffers fill -- our small receive buffer, and Redis's send buffer,
which Linux grows up to ``net.ipv4.tcp_wmem``'s maximum (4 MB here; where it is
larger, raise ``--count`` or ``--size``).  CLIENT LIST
shows ``omem=0`` all that time.  Only then does ``omem`` climb, and at 64 KB the
connection is gone.  What the slow subscriber finally reads is what sat in those
kernel buffers; the messages in Redis's buffer at the cut, and all later ones, are
lost to it.  A trace (2000 messages of 8 KB)::

    = slow-sub subscribed to orders.created, and now stops reading
    = slow-sub after 200 PUBLISHes: omem=0 bytes queued in Redis for it
    = slow-sub after 400 PUBLISHes: gone (not in CLIENT LIST)
    > pub      PUBLISH x2000: 2 receivers up to pub-355, then 1 (the slow subscriber was cut off)
    = lesson   CLIENT LIST after the flood: slow-sub gone
    = slow-sub reads again: 345 message(s) had reached it; connection closed by the server
    = lesson   slow-sub missed 1655 of 2000; fast-sub received 2000 of 2000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from wirelab_common.errors import check, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .envelope import EnvelopeError, decode
from .publisher import Publisher, url_or_env
from .resp import RespParser, encode_command
from .subscriber import Subscriber

DEFAULT_LIMIT = "pubsub 64kb 32kb 2"


class SlowSubscriber:
    """SUBSCRIBEs on a bare socket, then stops reading until :meth:`read_rest`."""

    def __init__(self, redis_url: str, channel: str, *, name: str = "slow-sub",
                 trace: Trace | None = None, rcvbuf: int = 4096) -> None:
        parts = urlsplit(redis_url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.channel = channel
        self.name = name
        self.trace = trace or Trace(name)
        self.rcvbuf = rcvbuf
        self.sock: socket.socket | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self.sock = sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so that the TCP window we advertise is small from the start.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.setblocking(False)
        await loop.sock_connect(sock, self.address)
        await loop.sock_sendall(sock, encode_command("CLIENT", "SETNAME", self.name)
                                + encode_command("SUBSCRIBE", self.channel))
        # RESP2 replies: +OK to SETNAME, then [subscribe, channel, 1 subscription].
        parser, replies = RespParser(), []
        while len(replies) < 2:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
            if not chunk:
                raise ConnectionError(f"Redis closed the connection after {replies!r}")
            replies += list(parser.feed(chunk))
        expected = ["OK", [b"subscribe", self.channel.encode(), 1]]
        check(replies == expected, f"expected {expected!r} to SETNAME/SUBSCRIBE, got {replies!r}")
        self.trace.state(f"subscribed to {self.channel}, and now stops reading")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    async def read_rest(self, timeout: float = 5.0) -> tuple[list[str], bool]:
        """Read what Redis managed to send: (envelope ids received, closed by the server?)."""
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        buffer, closed = bytearray(), False
        try:
            async with asyncio.timeout(timeout):
                while True:
                    chunk = await loop.sock_recv(self.sock, 65536)
                    if not chunk:
                        closed = True  # EOF: we sent nothing, so it was the server's close
                        break
                    buffer += chunk
        except TimeoutError:
            pass  # still open: Redis did not cut us off
        except ConnectionResetError:
            closed = True
        finally:
            self.close()
        ids = []
        # The last message may be cut in half by the close: the parser keeps it, unreturned.
        for value in RespParser().feed(bytes(buffer)):
            if isinstance(value, list) and len(value) == 3 and value[0] == b"message":
                try:
                    ids.append(decode(value[2], channel=self.channel).id)
                except EnvelopeError:
                    pass
        how = "closed by the server" if closed else "still open"
        self.trace.state(f"reads again: {len(ids)} message(s) had reached it; connection {how}")
        return ids, closed


@dataclass
class SlowLesson:
    """What the flood did: who got which ids, and whether Redis cut the slow one off."""

    published: list[str] = field(default_factory=list)
    slow_received: list[str] = field(default_factory=list)
    fast_received: list[str] = field(default_factory=list)
    closed_by_server: bool = False
    listed_after: bool = True  # still in CLIENT LIST after the flood?

    @property
    def slow_missed(self) -> list[str]:
        got = set(self.slow_received)
        return [i for i in self.published if i not in got]


async def listed(admin: aioredis.Redis, name: str) -> dict[str, str] | None:
    """The CLIENT LIST entry named ``name``, if the server still has that client."""
    return next((c for c in await admin.client_list() if c.get("name") == name), None)


async def run_lesson(redis_url: str, *, channel: str = "orders.created", count: int = 2000,
                     size: int = 8192, limit: str = DEFAULT_LIMIT, trace: Trace | None = None) -> SlowLesson:
    trace = trace or Trace("lesson")
    admin = aioredis.from_url(redis_url, decode_responses=True)
    old = (await admin.config_get("client-output-buffer-limit"))["client-output-buffer-limit"]
    await admin.config_set("client-output-buffer-limit", limit)
    trace.state(f"CONFIG SET client-output-buffer-limit {limit!r}")
    lesson = SlowLesson()
    slow = SlowSubscriber(redis_url, channel, trace=trace.child("slow-sub"))
    # One line per message would bury the lesson: these two traces are kept in memory.
    fast = Subscriber(redis_url, channels=[channel], name="fast-sub",
                      trace=Trace("fast-sub", stream=io.StringIO()))
    publisher = Publisher(redis_url, Trace("pub", stream=io.StringIO()))
    try:
        await slow.connect()
        await fast.start()
        filler, gone = "x" * size, False
        for n in range(1, count + 1):
            await publisher.publish(channel, {"n": n, "filler": filler})
            if n % max(1, count // 10) == 0 and not gone:
                entry = await listed(admin, slow.name)
                gone = entry is None
                where = (f"omem={entry['omem']} bytes queued in Redis for it" if entry
                         else "gone (not in CLIENT LIST)")
                trace.child("slow-sub").state(f"after {n} PUBLISHes: {where}")
        lesson.published = [r.id for r in publisher.receipts]
        counts = [r.receivers for r in publisher.receipts]
        cut = next((i for i, c in enumerate(counts) if c < 2), None)
        if cut is not None:
            upto = f"up to {lesson.published[cut - 1]}" if cut else "for none"
            trace.child("pub").sent(f"PUBLISH x{count}: 2 receivers {upto}, "
                                    f"then {counts[cut]} (the slow subscriber was cut off)", peer="redis")
        try:
            await fast.wait_for_count(count, timeout=10)
        except TimeoutError:
            pass  # reported below, and checked by the caller
        lesson.fast_received = fast.received_ids
        lesson.listed_after = await listed(admin, slow.name) is not None
        trace.state(f"CLIENT LIST after the flood: slow-sub {'present' if lesson.listed_after else 'gone'}")
        lesson.slow_received, lesson.closed_by_server = await slow.read_rest()
    finally:
        slow.close()
        await fast.close()
        await publisher.aclose()
        await admin.config_set("client-output-buffer-limit", old)
        await admin.aclose()
    trace.state(f"slow-sub missed {len(lesson.slow_missed)} of {count}; "
                f"fast-sub received {len(lesson.fast_received)} of {count}")
    return lesson


async def run_cli(args: argparse.Namespace) -> None:
    lesson = await run_lesson(url_or_env(args.redis_url), channel=args.channel, count=args.count,
                              size=args.size, limit=args.limit,
                              trace=Trace("lesson", verbose=args.verbose, quiet=args.quiet))
    check(lesson.closed_by_server, "Redis did not close the slow subscriber (raise --count or --size?)")
    check(not lesson.listed_after, "the slow subscriber is still in CLIENT LIST")
    check(lesson.slow_missed, "the slow subscriber missed nothing")
    check(len(lesson.fast_received) == args.count, "the fast subscriber missed messages")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_pubsub.slow_subscriber")
    parser.add_argument("--redis-url", help="default: $REDIS_URL (a throwaway server, please)")
    parser.add_argument("--channel", default="orders.created")
    parser.add_argument("--limit", default=DEFAULT_LIMIT, help="client-output-buffer-limit for the lesson")
    parser.add_argument("--count", type=int, default=2000, help="messages in the flood")
    parser.add_argument("--size", type=int, default=8192, help="payload filler bytes per message")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    run_main(lambda: run_cli(args))


if __name__ == "__main__":
    main()
