"""Differential: ``ice_fast`` (the benchmark's ICE) and aioice as the lesson uses it reach the same outcomes.

Each test runs the same ICE exchange twice, once per path, on two aioice
connections in this process (host candidates on 127.0.0.2, the ``lab``
fixture), and compares what came out: which pair each side nominated and of
which candidate types, that data crosses on it, that trickled candidates
arriving after ``connect()`` started still connect, and that a peer that
never answers still fails.  Then two aiortc peers through our signaling server
exchange chat lines with the fast path on.  No timing is asserted.
"""

from __future__ import annotations

import asyncio
import io
import socket

import aioice
import aioice.stun
import pytest

from learn_webrtc import ice_fast
from learn_webrtc.chat import say
from learn_webrtc.peer import LAB_HOST, open_channel, pair
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential

QUIET = Trace("", stream=io.StringIO())


@pytest.fixture
def both_paths():
    """Yields a runner: ``await run(scenario)`` -> {"plain": outcome, "fast": outcome}."""
    async def run(scenario):
        outcomes = {}
        for name in ("plain", "fast"):
            (ice_fast.install if name == "fast" else ice_fast.uninstall)()
            assert ice_fast.installed() == (name == "fast")
            outcomes[name] = await scenario()
        return outcomes
    yield run
    ice_fast.uninstall()


def describe(connection: aioice.Connection) -> tuple:
    pair = connection._nominated[1]  # noqa: SLF001 - aiortc reads the same (peer.nominated_pair)
    return pair.local_candidate.type, pair.local_candidate.host, pair.remote_candidate.type, \
        pair.remote_candidate.host


async def exchange(late: bool = False) -> dict:
    """Two connections; candidates before connect() or (``late``) trickled once it runs."""
    a, b = aioice.Connection(ice_controlling=True), aioice.Connection(ice_controlling=False)
    try:
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        for here, there in ((a, b), (b, a)):
            here.remote_username, here.remote_password = there.local_username, there.local_password

        async def trickle() -> None:
            for here, there in ((a, b), (b, a)):
                for candidate in there.local_candidates:
                    await here.add_remote_candidate(candidate)
                await here.add_remote_candidate(None)

        if not late:
            await trickle()
        connecting = asyncio.gather(a.connect(), b.connect())
        if late:
            await asyncio.sleep(0.1)  # both connect()s run with an empty check list meanwhile
            await trickle()
        await asyncio.wait_for(connecting, 20)
        await a.send(b"over the nominated pair")
        got = await asyncio.wait_for(b.recv(), 10)
        return {"a": describe(a), "b": describe(b), "data": got}
    finally:
        await a.close()
        await b.close()


async def test_the_same_pair_is_nominated_and_carries_data(lab, both_paths):
    outcomes = await both_paths(exchange)
    assert outcomes["fast"] == outcomes["plain"]
    assert outcomes["fast"]["a"] == ("host", LAB_HOST, "host", LAB_HOST)
    assert outcomes["fast"]["data"] == b"over the nominated pair"


async def test_candidates_trickled_after_connect_started_still_connect(lab, both_paths):
    outcomes = await both_paths(lambda: exchange(late=True))
    assert outcomes["fast"] == outcomes["plain"]
    assert outcomes["fast"]["b"] == ("host", LAB_HOST, "host", LAB_HOST)


async def test_a_peer_that_never_answers_fails_on_both_paths(lab, both_paths, monkeypatch):
    monkeypatch.setattr(aioice.stun, "RETRY_MAX", 1)  # give up after 2 attempts, not 7
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read: checks go unanswered
    silent.bind((LAB_HOST, 0))

    async def scenario() -> str:
        a = aioice.Connection(ice_controlling=True)
        try:
            await a.gather_candidates()
            a.remote_username, a.remote_password = "nobody", "x" * 22
            await a.add_remote_candidate(aioice.Candidate(
                foundation="1", component=1, transport="udp", priority=1, host=LAB_HOST,
                port=silent.getsockname()[1], type="host"))
            await a.add_remote_candidate(None)
            with pytest.raises(ConnectionError) as failure:
                await asyncio.wait_for(a.connect(), 30)
            return str(failure.value)
        finally:
            await a.close()

    try:
        outcomes = await both_paths(scenario)
    finally:
        silent.close()
    assert outcomes["fast"] == outcomes["plain"] == "ICE negotiation failed"


async def test_aiortc_peers_chat_through_signaling_with_the_fast_path(signaling_url, both_paths):
    async def scenario() -> dict:
        async with pair(QUIET, signaling_url, f"fast-{ice_fast.installed()}") as (alice, bob):
            chat = alice.pc.createDataChannel("chat")
            await alice.join()
            await bob.join()
            await open_channel(chat, 20)
            inbox = await bob.channel("chat", 20)
            say(chat, alice.trace, "hi bob")
            line = (await inbox.next_json())["text"]
            local, remote = alice.selected_pair()
            return {"line": line, "pair": (local.split(":")[0], remote.split(":")[0]),
                    "states": (alice.pc.iceConnectionState, bob.pc.iceConnectionState)}

    outcomes = await both_paths(scenario)
    assert outcomes["fast"] == outcomes["plain"]
    assert outcomes["fast"]["pair"] == (f"host {LAB_HOST}", f"host {LAB_HOST}")
