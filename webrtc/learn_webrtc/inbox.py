"""One data channel's incoming messages: traced, queued, and ended with a reason.

Reading order: a helper of ``peer.py``; read it with ``Peer.channel()``.

A data channel delivers messages through a callback; a program wants to
``await inbox.next()``.  An :class:`Inbox` bridges the two.  It also knows
when nothing more can arrive: the channel closed, or the :class:`Peer` it
belongs to learned that the other side is gone (``Peer.end_reason``).  Then
``next()`` raises :class:`PeerGone` with that reason at once, after handing
out whatever had already arrived, instead of waiting out its timeout.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel

from wirelab_common.errors import CheckFailed
from wirelab_common.wiretrace import Trace, shorten

if TYPE_CHECKING:
    from .peer import Peer



def channel_cid(channel: RTCDataChannel) -> str | None:
    """The structured events' correlation id of a data channel's messages: its id (the SCTP
    stream, RFC 8831 §6.5), the same at both ends; None before it is negotiated."""
    return f"dc{channel.id}" if channel.id is not None else None

class PeerGone(CheckFailed):
    """The data channel or the connection to the other peer ended; the message says how."""


_END = object()  # queued behind an Inbox's last message once nothing more can arrive


class Inbox:
    """Every message that arrives on one data channel, traced and queued.

    ``next()`` returns the messages in order; once the channel closes, or the
    ``peer`` it belongs to learns that the other side is gone (see
    ``Peer.end_reason``), it raises PeerGone with the reason instead of waiting
    out its timeout.  Messages that arrived before the end are still returned first.
    """

    def __init__(self, channel: RTCDataChannel, trace: Trace, peer: Peer | None = None,
                 quiet_binary: bool = True) -> None:
        self.channel = channel
        self.trace = trace
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.reason: str | None = None
        self.quiet_binary = quiet_binary
        self.remote = peer.remote if peer is not None else None  # the other end's actor name
        channel.on("message", self._on_message)
        # aiortc emits "close" once, then removes every listener of the channel.
        channel.on("close", lambda: self.end(f"data channel {channel.label!r} closed"))
        if peer is not None:
            peer.when_ended(self.end)

    def _on_message(self, message: str | bytes) -> None:
        ends = {"peer": self.remote, "cid": self.cid}
        if isinstance(message, str):
            self.trace.received(f"{self.channel.label} {shorten(message, 90)}", **ends)
        elif not self.quiet_binary:
            self.trace.received(f"{self.channel.label} <{len(message)} bytes>", **ends)
        self.queue.put_nowait(message)

    @property
    def cid(self) -> str | None:
        """The data channel's id (its SCTP stream, RFC 8831 §6.5): the same at both ends."""
        return channel_cid(self.channel)

    def end(self, reason: str) -> None:
        """Nothing more will arrive (the first reason given is kept)."""
        if self.reason is None:
            self.reason = reason
            self.closed.set()
            self.queue.put_nowait(_END)

    async def next(self, timeout: float = 10.0) -> str | bytes:
        """The next message; PeerGone once the channel or the connection ended; TimeoutError."""
        try:
            message = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no message on data channel {self.channel.label!r} "
                               f"for {timeout:.0f} s") from None
        if message is _END:
            self.queue.put_nowait(_END)  # every later call ends the same way
            raise PeerGone(str(self.reason))
        return message

    async def next_json(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await self.next(timeout)
        if not isinstance(message, str):
            raise ValueError(f"expected a text message, got {len(message)} binary bytes")
        return json.loads(message)
