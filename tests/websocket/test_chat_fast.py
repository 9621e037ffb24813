"""The chat's fast path (fast.py) beside the lesson's (hub.py alone, ``--plain``).

First the hubs alone, in memory: ``DirectHub`` and ``Hub`` get the same deliveries
while a member's socket takes bytes, stops taking them (its buffer is over the
high-water mark) and takes them again; every member must get the same texts in
the same order, and a member that stops reading must be closed with 4008 by both.

Then two server processes, one of each kind, get the same conversation from the
same hand-written clients: a burst of posts and bad messages in one write, a
reader that falls behind (its small receive window backs the server up into its
outbox) and catches up, a leave.  Every client must receive the same frames from
both.  The slow consumer's 4008 on a real socket is tested against both kinds in
``test_chat.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys

import pytest

from learn_websocket.chat.fast import DirectHub
from learn_websocket.chat.hub import SLOW_CONSUMER, Hub
from tests.websocket.test_chat import OP_TEXT, RawPeer
from wirelab_common.processes import start_server

pytestmark = pytest.mark.differential


class FakeTransport:
    """A socket whose buffer can fill: ``write_now`` refuses and ``send`` waits while it is full."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.writable = asyncio.Event()
        self.writable.set()

    def write_now(self, text: str) -> bool:
        if not self.writable.is_set():
            return False
        self.sent.append(text)
        return True

    async def send(self, text: str) -> None:
        await self.writable.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def members(hub: Hub, names: list[str]) -> list[tuple[object, FakeTransport]]:
    out = []
    for name in names:
        sock = FakeTransport()
        if isinstance(hub, DirectHub):
            member = hub.connect_direct(name, f"test:{name}", sock.send, sock.close, sock.write_now)
        else:
            member = hub.connect(name, f"test:{name}", sock.send, sock.close)
        hub.join(member, "lobby")
        out.append((member, sock))
    return out


async def play(hub: Hub) -> list[tuple[list[str], tuple[int, str] | None]]:
    """Deliveries while bob's socket is full for a while and carol's never drains again."""
    joined = members(hub, ["alice", "bob", "carol"])
    (_a, alice), (_b, bob), (_c, carol) = joined
    step = 0

    async def deliver(count: int, yield_every: int) -> None:
        nonlocal step
        for _ in range(count):
            hub.deliver("lobby", f"m{step}")
            step += 1
            if step % yield_every == 0:
                await asyncio.sleep(0)

    await deliver(5, 1)  # everybody keeps up
    bob.writable.clear()  # bob's buffer is full: what follows waits in his outbox
    carol.writable.clear()  # carol never reads again
    await deliver(6, 2)
    bob.writable.set()  # bob catches up: the pump sends his backlog, in order
    await deliver(3, 1)  # delivered while his pump may still be sending the backlog
    await asyncio.sleep(0.01)
    await deliver(4, 4)
    await asyncio.sleep(0.01)  # carol's outbox (8) overflowed on the way: 4008
    for member, _sock in joined:
        hub.disconnect(member)
    return [(sock.sent, sock.closed) for sock in (alice, bob, carol)]


async def test_direct_hub_delivers_what_the_lesson_delivers_in_the_same_order():
    lesson = await play(Hub("s1", queue_size=8))
    fast = await play(DirectHub("s1", queue_size=8))
    assert fast == lesson
    (alice_sent, _), (bob_sent, bob_closed), (carol_sent, carol_closed) = fast
    assert alice_sent == bob_sent == [f"m{i}" for i in range(18)] and bob_closed is None
    assert carol_closed == (SLOW_CONSUMER, "slow consumer") and carol_sent == [f"m{i}" for i in range(5)]


async def test_direct_member_writes_at_once_only_while_its_outbox_is_empty():
    hub = DirectHub("s1", queue_size=8)
    ((member, sock),) = members(hub, ["alice"])
    hub.deliver("lobby", "a")
    assert sock.sent == ["a"] and member.queue.empty()  # written, no pump involved
    sock.writable.clear()
    hub.deliver("lobby", "b")
    sock.writable.set()
    hub.deliver("lobby", "c")  # writable again, but "b" is queued: "c" goes behind it
    assert sock.sent == ["a"] and member.queue.qsize() == 2
    await asyncio.sleep(0.01)
    assert sock.sent == ["a", "b", "c"]
    hub.disconnect(member)


# -- two server processes, the same conversation -------------------------------------------

def client_frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Client(RawPeer):
    """test_chat's hand-written client, plus a burst of messages in one write and a record of every text."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.got: list[str] = []

    def send(self, *messages: dict | str) -> None:
        """All in one write: the server reads them as one burst."""
        texts = [m if isinstance(m, str) else json.dumps(m, ensure_ascii=False) for m in messages]
        self.writer.write(b"".join(client_frame(text) for text in texts))

    async def read_until(self, marker: str) -> None:
        while True:
            frame = await self.read_frame(timeout=10)
            assert frame is not None, f"the server closed before sending {marker!r}"
            opcode, payload = frame
            text = payload.decode()
            assert opcode == OP_TEXT, (opcode, text)
            self.got.append(text)
            if marker in text:
                return


COUNT = 600


async def conversation(port: int) -> list[list[str]]:
    alice = await Client.open(port, "alice-token")
    bob = await Client.open(port, "bob-token", rcvbuf=4096)
    try:
        await alice.read_until('"welcome"')
        await bob.read_until('"welcome"')
        alice.send({"type": "join", "room": "r"})
        await alice.read_until('"joined"')
        bob.send({"type": "join", "room": "r"})
        await bob.read_until('"joined"')
        await alice.read_until('"user":"bob"')
        # A burst while bob does not read: 4.8 MB, past what loopback TCP buffers for
        # an unread socket (about 4 MB) and the server's write buffer, so the rest waits
        # in bob's outbox (up to 1,000 messages here: nobody is too slow yet).
        text = "\U0001F4AC" * 1990
        alice.send(*[{"type": "say", "room": "r", "text": f"{i:03d} {text}"} for i in range(COUNT)],
                   "not json", {"type": "say", "room": "elsewhere", "text": "x"},
                   {"type": "leave", "room": "nowhere"}, {"type": "say", "room": "r", "text": "done"})
        await alice.read_until('"text":"done"')
        await bob.read_until('"text":"done"')
        bob.send({"type": "say", "room": "r", "text": "bob here"}, {"type": "leave", "room": "r"})
        await bob.read_until('"type":"left"')
        await alice.read_until('"type":"left"')
        return [alice.got, bob.got]
    finally:
        alice.close()
        bob.close()


@pytest.fixture
def chat_pair(procs):
    def start(*args: str):
        argv = [sys.executable, "-m", "learn_websocket.chat.server", "--port", "0", "--server-id", "s1",
                "--quiet", "--queue-size", "1000", *args]
        proc = start_server(argv, name="plain" if args else "fast")
        procs.started.append(proc)
        return proc.port
    return start(), start("--plain")


async def test_fast_server_sends_every_client_what_the_plain_one_sends(chat_pair):
    fast_port, plain_port = chat_pair
    fast = await conversation(fast_port)
    plain = await conversation(plain_port)
    assert fast == plain
    alice, bob = fast
    posts = [json.loads(t)["text"][:3] for t in bob if '"type":"message"' in t]
    assert posts == [f"{i:03d}" for i in range(COUNT)] + ["don", "bob"]  # all of them, in order
    assert sum('"type":"error"' in t for t in alice) == 3
