"""The peer driver: an aiortc ``RTCPeerConnection`` wired to the signaling client, traced.

Reading order: signaling -> signaling_server -> signaling_client -> **peer** -> file_transfer -> ...

What happens, in JSEP terms (RFC 8829 §3), once two peers are in a room:

    offerer (already in the room)             answerer (joined second)
    createOffer, setLocalDescription  --offer-->  setRemoteDescription
                                      <--answer-- createAnswer, setLocalDescription
    candidate, candidate, ..., null   --------->  addIceCandidate (trickle, RFC 8838)
    addIceCandidate                   <---------  candidate, ..., null
    ICE checks (STUN binding requests on every pair, RFC 8445), then DTLS (RFC 6347)
    on the selected pair, then SCTP over DTLS (RFC 8261) for data channels and SRTP for media.

**Trickle ICE.**  A browser hands out candidates one by one (``onicecandidate``)
while it gathers.  aiortc gathers everything inside ``setLocalDescription()`` and
writes the candidates into the SDP.  To show the same protocol on both sides we
take them out of the SDP (``split_candidates``) and send each as a ``candidate``
message, then ``null`` for end-of-candidates.  Received candidates go to
``addIceCandidate``, which takes trickled candidates at any time.

**Addresses.**  aioice offers every interface address as a host candidate except
127.0.0.1.  On a developer machine that means eth0, docker bridges, VPNs: traffic
this lab must not send (wirelab stays on loopback and its own namespaces).
``restrict_host_addresses(["127.0.0.2"])`` makes aioice offer only 127.0.0.2,
which Linux routes to ``lo`` with no setup (all of 127.0.0.0/8 is local).

**Lab timers.**  RFC 7675 consent freshness: a peer that stops answering the
every-5 s STUN consent checks is declared gone after ~30 s.  ``lab_timers()``
makes that 1 s x 3 failures, so a killed peer is noticed in a few seconds.

The ``=`` lines trace ICE gathering, ICE connection, connection and signaling
states; candidates show their type (host / srflx / prflx / relay).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import aioice.ice
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp
from websockets.exceptions import ConnectionClosed

from wirelab_common.errors import CheckFailed
from wirelab_common.wiretrace import Trace

from .inbox import Inbox, PeerGone  # noqa: F401  (PeerGone is re-exported for the peers)
from .signaling_client import SignalingClient

LAB_HOST = "127.0.0.2"


def restrict_host_addresses(addresses: Iterable[str]) -> None:
    """Make aioice offer only ``addresses`` as host candidates (see the module docstring)."""
    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(chosen)


def lab_timers(interval: float = 1.0, failures: int = 3, consent: bool = True) -> None:
    """Consent freshness (RFC 7675) on a lab clock: a dead peer is noticed after ~interval*failures.

    ``consent=False`` (the demo's ``--no-consent``) puts the first check a week away:
    the connection then never learns that the other peer is gone.
    """
    aioice.ice.CONSENT_INTERVAL = interval if consent else 7 * 24 * 3600.0
    aioice.ice.CONSENT_FAILURES = failures


class IceFailed(CheckFailed):
    """The connection did not come up; the message says what was seen."""


def configuration(turn: tuple[str, int, str, str] | None = None, relay_only: bool = False,
                  stun: tuple[str, int] | None = None) -> RTCConfiguration:
    """An RTCConfiguration: optionally a TURN server (host, port, user, password), relay-only, a STUN server.

    ``max-bundle``: one ICE transport for everything (audio, video, data), as
    every browser ends up negotiating.  aiortc's default, ``balanced``, gathers
    one transport per media kind; the ones that BUNDLE makes redundant are then
    reported as ICE "failed" when end-of-candidates reaches them.
    """
    servers = [RTCIceServer(f"stun:{stun[0]}:{stun[1]}")] if stun else []
    if turn:
        servers.append(RTCIceServer(f"turn:{turn[0]}:{turn[1]}?transport=udp", turn[2], turn[3]))
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy,
                            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its ``a=candidate`` lines, and those lines as ``candidate`` messages."""
    kept, candidates = [], []
    mline, mid = -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mline, mid = mline + 1, None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:"):]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": mline})
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    # aiortc writes one copy per bundled m-line; the transport is shared, so send each once,
    # tagged with the first m-line (the BUNDLE's primary: the others ignore candidates).
    unique: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        unique.setdefault(candidate["candidate"], candidate)
    return "\r\n".join(kept) + "\r\n", list(unique.values())


def candidate_type(candidate: str) -> str:
    bits = candidate.split()
    return bits[bits.index("typ") + 1] if "typ" in bits else "?"


def describe_candidate(candidate: str) -> str:
    bits = candidate.removeprefix("candidate:").split()
    return f"typ {candidate_type(candidate):<5} {bits[2]} {bits[4]}:{bits[5]}" if len(bits) > 5 else candidate


class Peer:
    """One WebRTC endpoint: ``await join()``, then ``await connected()``, then use ``pc``.

    Create data channels and add tracks on ``pc`` *before* ``join()``: the
    offerer puts them in its offer the moment the other peer arrives.  Listen to
    a channel you created with ``inbox(channel)``; get one the other peer
    created with ``await channel(label)``.  Both kinds of Inbox end, with
    ``end_reason``, when this connection is over.
    """

    def __init__(self, name: str, signaling_url: str, room: str, trace: Trace,
                 config: RTCConfiguration | None = None, trickle: bool = True) -> None:
        self.name, self.url, self.room = name, signaling_url, room
        self.trickle = trickle  # False: send no candidates at all (the demo's --no-trickle)
        self.trace = trace
        self.remote: str | None = None  # the other peer's actor name, for the structured events
        self.pc = RTCPeerConnection(config or configuration())
        self.signaling: SignalingClient | None = None
        self.peer_left = asyncio.Event()
        self.remote_candidates: list[str] = []
        self.local_candidates: list[str] = []
        # Channels the other peer opened, by label, each already listened to: a message sent the
        # moment a channel opens must not be lost before our code gets round to attaching a handler.
        # By label, because the other peer may open several, in any order (``channel(label)``).
        self.channels: dict[str, Inbox] = {}
        # Why this connection is over (None while it is not): the other peer left the room, or
        # the connection failed or closed.  Inboxes and file transfers stop on it.
        self.end_reason: str | None = None
        self._on_end: list[Callable[[str], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._state_changed = asyncio.Event()
        self._watch_states()

    def _watch_states(self) -> None:
        pc = self.pc
        names = {"icegatheringstatechange": "iceGatheringState", "iceconnectionstatechange":
                 "iceConnectionState", "connectionstatechange": "connectionState",
                 "signalingstatechange": "signalingState"}
        for event, attribute in names.items():
            def changed(attribute: str = attribute) -> None:
                self.trace.state(f"{attribute} -> {getattr(pc, attribute)}")
                if attribute == "connectionState" and pc.connectionState in ("failed", "closed"):
                    self._end(f"connectionState {pc.connectionState}")
                self._state_changed.set()
            pc.on(event, changed)
        pc.on("datachannel", self._on_datachannel)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self.trace.state(f"datachannel {channel.label!r} opened by the other peer")
        if channel.label in self.channels:
            self.trace.note(f"a second channel labelled {channel.label!r}: channel() keeps the first")
        else:
            self.channels[channel.label] = Inbox(channel, self.trace, self)
        self._state_changed.set()

    def when_ended(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(reason)`` once this connection is over (at once if it already is).

        Returns a function that cancels the call (for waits that end another way)."""
        if self.end_reason is not None:
            callback(self.end_reason)
        else:
            self._on_end.append(callback)
        return lambda: self._on_end.remove(callback) if callback in self._on_end else None

    def _end(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self.trace.state(f"connection to the other peer over: {reason}")
            for callback in self._on_end:
                callback(reason)
            self._on_end.clear()

    def inbox(self, channel: RTCDataChannel) -> Inbox:
        """An Inbox for a channel we created; it ends when this connection does."""
        return Inbox(channel, self.trace, self)

    async def channel(self, label: str, timeout: float = 20.0) -> Inbox:
        """The channel labelled ``label`` that the other peer opened (waits for it, bounded)."""
        if not await self._until(lambda: label in self.channels or self.end_reason is not None, timeout):
            raise IceFailed(self.explain(f"no data channel {label!r} from the other peer after "
                                         f"{timeout:.0f} s (got {sorted(self.channels)})"))
        if label not in self.channels:
            raise PeerGone(f"{self.name}: no data channel {label!r}: {self.end_reason}")
        return self.channels[label]

    async def join(self) -> dict[str, Any]:
        """Connect to the signaling server, join the room and start answering signaling."""
        self.signaling = await SignalingClient.open(self.url, self.trace)
        joined = await self.signaling.join(self.room)
        self._task = asyncio.create_task(self._signal_loop(), name=f"signal-{self.name}")
        return joined

    async def _signal_loop(self) -> None:
        assert self.signaling is not None
        try:
            while True:
                message = await self.signaling.recv()
                kind = message.get("type")
                if kind == "peer-joined" and self.pc.remoteDescription is None:
                    await self._offer()
                elif kind == "peer-joined":  # a newcomer after a peer vanished: a fresh call is needed
                    self.trace.state("a new peer joined; this connection is already negotiated, not offering")
                elif kind in ("offer", "answer"):
                    await self._on_description(message)
                elif kind == "candidate":
                    await self._on_candidate(message)
                elif kind == "peer-left":
                    self.peer_left.set()
                    # Within milliseconds of the other process dying (its WebSocket closes); the
                    # connection itself only notices when consent checks go unanswered.
                    self._end("the other peer left the room (signaling peer-left)")
                    self._state_changed.set()
        except ConnectionClosed:
            self.trace.state("signaling connection closed")
        except Exception as exc:  # noqa: BLE001 - shown, then ends the loop: never a silent hang
            self.trace.state(f"signaling loop failed: {exc!r}")
            self._state_changed.set()

    async def _offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())  # gathers every candidate
        await self._send_description()

    async def _on_description(self, message: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(message["sdp"], message["type"]))
        if message["type"] == "offer":
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self._send_description()

    async def _send_description(self) -> None:
        assert self.signaling is not None
        local = self.pc.localDescription
        sdp, candidates = split_candidates(local.sdp)
        await self.signaling.send({"type": local.type, "sdp": sdp})
        for candidate in candidates if self.trickle else []:  # trickle: one message each, then null
            self.local_candidates.append(candidate["candidate"])
            self.trace.state(f"gathered local candidate {describe_candidate(candidate['candidate'])}")
            await self.signaling.send({"type": "candidate", **candidate})
        await self.signaling.send({"type": "candidate", "candidate": None})

    async def _on_candidate(self, message: dict[str, Any]) -> None:
        text = message.get("candidate")
        if not text:  # null or "": the browser's and our end-of-candidates
            await self.pc.addIceCandidate(None)
            return
        self.remote_candidates.append(text)
        self.trace.state(f"remote candidate {describe_candidate(text)}")
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
        candidate.sdpMid = message.get("sdpMid")
        candidate.sdpMLineIndex = message.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)

    async def _until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) until ``done()`` holds, re-checking on every state change; False on timeout."""
        async def watch() -> None:
            while not done():
                self._state_changed.clear()
                await self._state_changed.wait()
        try:
            await asyncio.wait_for(watch(), timeout)
        except TimeoutError:
            return False
        return True

    async def negotiated(self, timeout: float = 20.0) -> None:
        """Wait until offer and answer are both applied (signalingState back to "stable")."""
        pc = self.pc
        if not await self._until(lambda: pc.remoteDescription is not None and pc.signalingState == "stable",
                                 timeout):
            raise IceFailed(self.explain(f"offer/answer not done after {timeout:.0f} s"))

    async def connected(self, timeout: float = 20.0) -> None:
        """Wait until connectionState is "connected"; IceFailed (with the reason) otherwise."""
        if not await self._until(lambda: self.pc.connectionState in ("connected", "failed", "closed"),
                                 timeout):
            raise IceFailed(self.explain(f"not connected after {timeout:.0f} s"))
        if self.pc.connectionState != "connected":
            raise IceFailed(self.explain(f"connection {self.pc.connectionState}"))

    def explain(self, what: str) -> str:
        local, remote = len(self.local_candidates), len(self.remote_candidates)
        hint = ""
        if not self.trickle:
            hint = " -- trickle turned off: no candidate was sent, so ICE had no pair to check"
        elif local == 0 and self.pc.localDescription is not None:
            hint = " -- no local candidates: relay-only policy without a reachable TURN server?"
        elif remote == 0 and self.pc.remoteDescription is not None:
            hint = " -- the other peer sent no candidates"
        elif self.pc.remoteDescription is None:
            hint = " -- no offer/answer yet: is the other peer in the room?"
        return (f"{self.name}: {what} (ICE {self.pc.iceConnectionState}, {local} local / {remote} remote "
                f"candidate(s)){hint}")

    async def wait_disconnected(self, timeout: float) -> str:
        """Wait until the connection is failed or closed; returns the state (IceFailed on timeout)."""
        if not await self._until(lambda: self.pc.connectionState in ("failed", "closed"), timeout):
            raise IceFailed(f"{self.name}: still {self.pc.connectionState} after {timeout:.0f} s")
        return self.pc.connectionState

    def selected_pair(self) -> tuple[str, str] | None:
        """(local, remote) candidate of the nominated pair, e.g. ("relay 127.0.0.1:50001", ...)."""
        pair = nominated_pair(self.pc)
        if pair is None:
            return None
        return tuple(f"{c.type} {c.host}:{c.port}" for c in pair)  # type: ignore[return-value]

    async def close(self, say_bye: bool = True) -> None:
        self._end(f"{self.name} closed its own connection")
        if self.signaling is not None:
            if say_bye:
                with contextlib.suppress(ConnectionClosed):
                    await self.signaling.send({"type": "bye"})
            await self.signaling.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pc.close()


def nominated_pair(pc: RTCPeerConnection) -> tuple[aioice.Candidate, aioice.Candidate] | None:
    """(local, remote) candidate of the pair ICE nominated for component 1, or None.

    aiortc 1.16 has no ``candidate-pair`` entries in ``getStats()``, so we read
    aioice's nominated pair (a private attribute, ``Connection._nominated``).
    The local side is always a socket's own candidate (host or relay): a srflx
    candidate is never "used" locally, its base is (RFC 8445 §6.1.2.4), and
    packets leave from the base and get NATed.
    """
    transports = [pc.sctp.transport.transport] if pc.sctp else []
    transports += [t.receiver.transport.transport for t in pc.getTransceivers()]
    for transport in transports:
        pair = getattr(transport._connection, "_nominated", {}).get(1)  # noqa: SLF001 (see above)
        if pair is not None:
            return pair.local_candidate, pair.remote_candidate
    return None


@contextlib.asynccontextmanager
async def pair(trace: Trace, url: str, room: str, config_a: RTCConfiguration | None = None,
               config_b: RTCConfiguration | None = None) -> AsyncIterator[tuple[Peer, Peer]]:
    """alice and bob for ``room``, not yet joined (add channels and tracks first); closed after."""
    alice = Peer("alice", url, room, trace.child("alice"), config_a)
    bob = Peer("bob", url, room, trace.child("bob"), config_b)
    alice.remote, bob.remote = "bob", "alice"
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def open_channel(channel: RTCDataChannel, timeout: float = 20.0) -> RTCDataChannel:
    """Wait for a data channel we created to open (after DTLS and SCTP are up)."""
    if channel.readyState != "open":
        opened = asyncio.Event()
        channel.on("open", opened.set)
        await asyncio.wait_for(opened.wait(), timeout)
    return channel
