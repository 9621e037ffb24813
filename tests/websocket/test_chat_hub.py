"""The chat hub's rules, driven with in-memory members: no sockets, no processes."""

from __future__ import annotations

import asyncio

import pytest

from learn_websocket.chat.hub import GOING_AWAY, SLOW_CONSUMER, Hub

pytestmark = pytest.mark.memory


class FakeSocket:
    """Records what the hub sends; ``stuck`` makes every send wait forever (a slow reader)."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.stuck = stuck

    async def send(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def connect(hub: Hub, user: str, sock: FakeSocket):
    return hub.connect(user, f"test:{user}", sock.send, sock.close)


async def test_a_slow_member_is_kicked_with_4008_and_the_room_keeps_flowing():
    hub = Hub("s1", queue_size=4)
    fast, slow = FakeSocket(), FakeSocket(stuck=True)
    a, b = connect(hub, "alice", fast), connect(hub, "bob", slow)
    hub.join(a, "lobby")
    hub.join(b, "lobby")
    for i in range(20):
        hub.deliver("lobby", f"m{i}")  # never awaits a socket
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert fast.sent == [f"m{i}" for i in range(20)]
    assert slow.closed == (SLOW_CONSUMER, "slow consumer")
    assert hub.rooms["lobby"] == {a}
    assert b.rooms == {"lobby"}  # kept, so the app can still announce "left"
    assert hub.disconnect(b) == {"lobby"}


async def test_close_all_flushes_then_says_going_away():
    hub = Hub("s1")
    socks = [FakeSocket(), FakeSocket()]
    members = [connect(hub, name, sock) for name, sock in zip(["a", "b"], socks, strict=True)]
    for member in members:
        hub.join(member, "lobby")
    hub.deliver("lobby", "last words")
    await hub.close_all()
    assert [s.sent for s in socks] == [["last words"], ["last words"]]
    assert [s.closed for s in socks] == [(GOING_AWAY, "server shutting down")] * 2
    assert hub.closing and not hub.rooms


async def test_join_and_leave_keep_the_room_index_tidy():
    hub = Hub("s1")
    member = connect(hub, "alice", FakeSocket())
    assert hub.join(member, "r") and not hub.join(member, "r")
    assert hub.leave(member, "r") and not hub.leave(member, "r")
    assert hub.rooms == {}
    hub.disconnect(member)
    assert not hub.members


async def test_a_burst_is_backlogged_once_an_outbox_is_over_a_quarter_full():
    hub = Hub("s1", queue_size=16)
    sock = FakeSocket()
    member = connect(hub, "alice", sock)
    hub.join(member, "lobby")
    flags = []
    for i in range(6):  # no await in between: one burst, the pump has not run yet
        hub.deliver("lobby", f"m{i}")
        flags.append(hub.backlogged())
    assert flags == [False, False, False, False, True, True]  # 5 of 16 queued is over a quarter
    await asyncio.sleep(0)  # what the app does when backlogged: the pump sends all six at once
    assert sock.sent == [f"m{i}" for i in range(6)]
    hub.deliver("lobby", "next")
    assert not hub.backlogged()
    hub.disconnect(member)
