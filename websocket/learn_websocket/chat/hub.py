"""The hub: rooms and their members inside one server process.

Reading order: schema -> **hub** -> broker -> app -> handlers -> server; then client; then the page.

The hub knows nothing about WebSocket libraries or Redis.  A member is given two
coroutine functions, ``send(text)`` and ``close(code, reason)``, so the hub can be
driven by Starlette (see ``app.py``) or by a test with plain lists.

The one rule that matters: **a broadcast never waits for a socket.**

    deliver(room, text)                      one call per room event
        |-- member A: queue.put_nowait(text)     never blocks
        |-- member B: queue.put_nowait(text)
        '-- member C: queue full  -> close C with 4008, drop C from every room

    member X's pump task:  while True: text = await queue.get(); await send(text)

Each member owns a bounded ``asyncio.Queue`` drained by its own *pump* task, so a
client that stops reading only fills its own queue.  If a room waited on its slowest
socket, one phone in a tunnel would freeze the room for everyone.  When a queue is
full the member is a **slow consumer** and is disconnected with close code 4008.
RFC 6455 §7.4.2 reserves 4000-4999 for applications; 1008 (policy violation) would
also be legal, but a code of our own lets the client tell "you were too slow"
apart from "you broke a rule" and decide to reconnect (and maybe resync).

**Bursts.**  Nothing reaches a socket until the pumps run, and they run only when
the code that queues messages yields to the event loop.  A burst (hundreds of
messages in one TCP read, or from Redis) is handled without waiting, so the app
asks ``backlogged()`` after each message and yields once some outbox is more than
a quarter full.  A flood then fills no reader's queue past a quarter (plus one
message for each other client flooding at the same instant), and a burst wakes
each member's pump once, not once per message: the pump sends everything queued
before it sleeps again.  Yielding after every message would keep the outboxes
empty, at one pump wake-up per member per message: two and a half times slower
in the broadcast benchmark.

Shutdown (``close_all``) uses 1001 "going away" (RFC 6455 §7.4.1): the server is
leaving, the client did nothing wrong and may reconnect elsewhere.

Candour: the close frame for a slow consumer is queued *behind* the bytes it has
not read yet (TCP keeps order), so the client sees 4008 only once it reads again.
Until then the server holds at most one kernel socket buffer for it, and sends it
nothing new.  ASGI gives an application no way to abort a TCP connection; a
production server would add a hard deadline (or TCP_USER_TIMEOUT) that does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from wirelab_common.wiretrace import Trace

GOING_AWAY = 1001  # RFC 6455 §7.4.1: "an endpoint is going away, such as a server going down"
SLOW_CONSUMER = 4008  # private-use range §7.4.2; 4000 + 8 echoes 1008 "policy violation"

SendText = Callable[[str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


class Member:
    """One connected client: a bounded outbox and the task that empties it."""

    def __init__(self, user: str, peer: str, send: SendText, close: CloseSocket, queue_size: int) -> None:
        self.user = user
        self.peer = peer  # "127.0.0.1:50312": tells two tabs of the same user apart in the trace
        self.key: str | None = None  # its handshake's Sec-WebSocket-Key: the trace events' cid
        self.rooms: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.close_code: int | None = None
        self._send = send
        self._close = close
        self._pump_task = asyncio.create_task(self._pump(), name=f"pump-{user}-{peer}")
        self._close_task: asyncio.Task[None] | None = None

    def offer(self, text: str) -> bool:
        """Queue ``text`` without waiting; False means the queue is full (a slow consumer)."""
        if self.close_code is not None:
            return True  # already leaving: drop silently, it is not a new problem
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def _pump(self) -> None:
        # Neither get() on a non-empty queue nor send() on a writable socket waits, so
        # one wake-up sends everything queued (until the socket's buffer is full).
        while True:
            text = await self.queue.get()
            try:
                await self._send(text)
            except Exception:
                # The socket is gone; the app's receive loop sees the disconnect and
                # removes this member.  Nothing useful is left to do here.
                return
            finally:
                self.queue.task_done()

    async def flushed(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        await self.queue.join()

    def close(self, code: int, reason: str) -> asyncio.Task[None]:
        """Stop sending and close the socket with ``code``; idempotent, never blocks the caller.

        The close runs in its own task: for a slow consumer it may wait until the peer
        reads what is already in flight (TCP keeps order, the close frame is last).
        """
        if self._close_task is None:
            self.close_code = code
            self._pump_task.cancel()
            self._close_task = asyncio.create_task(self._close_socket(code, reason))
        return self._close_task

    async def _close_socket(self, code: int, reason: str) -> None:
        try:
            await self._close(code, reason)
        except Exception:
            pass  # already closed by the peer: the goal is reached anyway

    def discard(self) -> None:
        """The connection is over: stop the tasks that still refer to it."""
        self._pump_task.cancel()
        if self._close_task is not None and not self._close_task.done():
            self._close_task.cancel()


class Hub:
    """Rooms -> members for this process; ``deliver`` is the only fan-out."""

    def __init__(self, server_id: str, queue_size: int = 256, trace: Trace | None = None) -> None:
        self.server_id = server_id
        self.queue_size = queue_size
        self.trace = trace or Trace(server_id)
        self.members: set[Member] = set()
        self.rooms: dict[str, set[Member]] = {}
        self.closing = False
        self._longest_outbox = 0  # after the last send/deliver

    def connect(self, user: str, peer: str, send: SendText, close: CloseSocket) -> Member:
        member = Member(user, peer, send, close, self.queue_size)
        self.members.add(member)
        return member

    def join(self, member: Member, room: str) -> bool:
        """Add ``member`` to ``room``; False if it was a member already."""
        if room in member.rooms:
            return False
        member.rooms.add(room)
        self.rooms.setdefault(room, set()).add(member)
        return True

    def leave(self, member: Member, room: str) -> bool:
        """Remove ``member`` from ``room``; False if it was not a member."""
        if room not in member.rooms:
            return False
        member.rooms.discard(room)
        self._unindex(member, room)
        return True

    def disconnect(self, member: Member) -> set[str]:
        """Forget ``member`` entirely; return the rooms it was in (to announce ``left``)."""
        rooms = set(member.rooms)
        for room in rooms:
            self._unindex(member, room)
        member.rooms.clear()
        self.members.discard(member)
        member.discard()
        return rooms

    def send(self, member: Member, text: str) -> None:
        """Queue a message for one member (welcome, error replies)."""
        if member.offer(text):
            self._longest_outbox = member.queue.qsize()
        else:
            self.kick(member, SLOW_CONSUMER, "slow consumer")

    def deliver(self, room: str, text: str) -> int:
        """Queue ``text`` for every local member of ``room``; return how many got it."""
        members = self.rooms.get(room, ())
        longest = 0
        slow = []
        for member in members:
            if not member.offer(text):
                slow.append(member)  # kicked below: kicking changes the set we iterate over
            elif member.queue.qsize() > longest:
                longest = member.queue.qsize()
        self._longest_outbox = longest
        for member in slow:
            self.kick(member, SLOW_CONSUMER, "slow consumer")
        return len(members) - len(slow)

    def backlogged(self) -> bool:
        """Did the last send/deliver leave some outbox over a quarter full?

        Then the caller should let the pumps run (``await asyncio.sleep(0)``) before
        it queues more: see **Bursts** at the top of this module.
        """
        return self._longest_outbox * 4 > self.queue_size

    def kick(self, member: Member, code: int, reason: str) -> None:
        """Close ``member`` with ``code`` and stop delivering to it at once."""
        if member.close_code is not None:
            return
        self.trace.state(f"{member.user} {reason}: queue full ({member.queue.maxsize} messages) "
                         f"-> close {code}", [f"peer {member.peer}, rooms {sorted(member.rooms)}"])
        # Out of the room index now, so the next broadcast does not even look at it;
        # member.rooms stays, so the app can still announce ``left`` when the socket ends.
        for room in member.rooms:
            self._unindex(member, room)
        member.close(code, reason)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "server shutting down",
                        grace: float = 2.0) -> None:
        """Graceful shutdown: flush what is queued, then close every member with ``code``."""
        self.closing = True  # the app refuses new joins from here on
        members = list(self.members)
        for member in members:
            for room in member.rooms:
                self._unindex(member, room)
        if not members:
            return
        # Messages already accepted for a member are delivered before the goodbye,
        # but a member that does not read cannot hold the shutdown up for long.
        flushing = [asyncio.create_task(m.flushed()) for m in members if m.close_code is None]
        if flushing:
            await asyncio.wait(flushing, timeout=grace / 2)
        for task in flushing:
            task.cancel()
        await asyncio.wait([m.close(code, reason) for m in members], timeout=grace / 2)

    def _unindex(self, member: Member, room: str) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.discard(member)
            if not members:
                del self.rooms[room]  # empty rooms do not pile up
