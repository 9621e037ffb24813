"""The anchor of bench_webrtc.py: two headless Chromium pages connected through OUR signaling server.

Each pair is two fresh pages of one Chromium (``/usr/bin/chromium`` driven by
playwright) on the page the signaling server serves at ``/`` (``static/peer.js``,
the same page ``learn_webrtc.browser`` uses against aiortc).  The first page
joins the room; when the second joins, the first gets ``peer-joined``, creates
the ``chat`` channel, offers, and trickles its candidates.  The page keeps its
own marks in ``window.webrtcTimes`` (``performance.now()``, its own clock):
``peerJoined`` (before ``createOffer``), ``offerSent`` (before the offer goes
out on the WebSocket), ``answerApplied`` (its ``setRemoteDescription`` of the
answer resolved), ``iceDone`` (``iceConnectionState`` connected or completed),
``connected`` (``connectionState``: DTLS is up), ``open`` (the offerer's
channel fires ``open``).

Throughput: ``window.sendBulk(total, size)`` sends ``total`` bytes in binary
messages of ``size`` with the Python sender's flow control (pause above 1 MiB
queued, resume on ``bufferedamountlow`` at 256 KiB) on that reliable, ordered
channel; the receiving page counts them and answers ``bulk-done`` on the same
channel, and the sender's elapsed time ends there.
"""

from __future__ import annotations

from learn_webrtc.browser import CHROMIUM_ARGS

MARKS = ("peerJoined", "offerSent", "answerApplied", "iceDone", "connected", "open")
READY = "window.webrtcLog && window.webrtcLog.some(l => l.includes('signal joined'))"


class ChromiumPair:
    """Two pages of ``browser`` in ``room``, connected: ``times`` are the offerer's marks (ms, its clock)."""

    def __init__(self, browser, url: str, room: str) -> None:
        self.browser, self.url, self.room = browser, url, room
        self.offerer = self.answerer = None
        self.times: dict[str, float] = {}

    async def __aenter__(self) -> ChromiumPair:
        self.offerer = await self.browser.new_page()
        self.answerer = await self.browser.new_page()
        await self.offerer.goto(f"{self.url}/?room={self.room}")
        await self.offerer.wait_for_function(READY, timeout=30_000)
        await self.answerer.goto(f"{self.url}/?room={self.room}")  # its join makes the offerer offer
        try:
            # Every mark, not just "open": Chromium may deliver connectionstatechange after it.
            await self.offerer.wait_for_function(f"{list(MARKS)}.every(k => k in window.webrtcTimes)",
                                                 timeout=30_000)
        except Exception as exc:
            log = await self.offerer.evaluate("window.webrtcLog")
            raise RuntimeError(f"Chromium <-> Chromium did not open a data channel: {log}") from exc
        self.times = await self.offerer.evaluate("window.webrtcTimes")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for page in (self.offerer, self.answerer):
            if page is not None:
                await page.close()

    async def throughput(self, total: int, message: int) -> float:
        """MiB/s of ``total`` bytes in ``message``-byte binary messages, offerer to answerer."""
        await self.answerer.wait_for_function("window.webrtcLog.some(l => l.includes('hello from chromium'))",
                                              timeout=30_000)
        await self.answerer.evaluate(f"window.expectBulk({total})")
        ms = await self.offerer.evaluate(f"window.sendBulk({total}, {message})")
        return total / (ms / 1000) / 2**20


async def launch(playwright, executable: str):
    """One headless Chromium with learn_webrtc.browser's flags."""
    return await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
