"""The adaptive bitrate (ABR) rule: which rendition to fetch next.  Pure: numbers in, a choice out.

Reading order: playlists -> **abr** -> buffer -> packager -> app -> server -> player -> probe -> demo.

HLS leaves the choice to the client: the master playlist gives each variant's
BANDWIDTH, and when to switch is the player's policy.  The rule here is the
common throughput rule guarded by the buffer, in the spirit of what hls.js and
dash.js do in their simplest modes:

1. **Throughput estimate**: the harmonic mean of the last ``window``
   per-segment throughputs (bits / download seconds).  The harmonic mean is
   dominated by the slow samples, so one fast download does not talk the
   player into a rendition the link cannot keep.
2. **Budget** = estimate x ``safety`` (0.8: keep a fifth in reserve for
   jitter and for the bytes the BANDWIDTH attribute does not count).
3. **Candidate** = the highest rendition whose BANDWIDTH fits the budget
   (the lowest if none does).
4. **Buffer guard**: step *up* only one rendition at a time and only when the
   buffer holds at least ``up_buffer`` seconds (a wrong guess upward must not
   drain it); step *down* at once, as far as the budget says.

``Rule(enabled=False)`` keeps the starting rendition whatever happens: the
demo's ``--no-abr`` switch, whose check must then fail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class ThroughputEstimator:
    """Harmonic mean of the last ``window`` samples, in bits per second."""

    window: int = 3
    samples: deque[float] = field(default_factory=deque)

    def add(self, size_bytes: int, seconds: float) -> float:
        """Record one download; return its throughput in bit/s."""
        bps = size_bytes * 8 / max(seconds, 1e-6)
        self.samples.append(bps)
        while len(self.samples) > self.window:
            self.samples.popleft()
        return bps

    @property
    def estimate(self) -> float | None:
        if not self.samples:
            return None
        return len(self.samples) / sum(1 / s for s in self.samples)


@dataclass(frozen=True)
class Decision:
    index: int  # into the bandwidths, sorted low to high
    reason: str


@dataclass(frozen=True)
class Rule:
    safety: float = 0.8
    up_buffer: float = 2.0  # seconds of buffer needed before stepping up
    enabled: bool = True

    def choose(self, bandwidths: list[int], current: int, throughput: float | None,
               buffer_level: float) -> Decision:
        """The rendition for the next segment; ``bandwidths`` sorted ascending."""
        if not self.enabled:
            return Decision(current, "ABR off: stay")
        if throughput is None:
            return Decision(current, "no measurement yet: stay")
        budget = throughput * self.safety
        candidate = 0
        for index, bandwidth in enumerate(bandwidths):
            if bandwidth <= budget:
                candidate = index
        what = f"{throughput / 1e3:.0f} kbit/s x {self.safety} = {budget / 1e3:.0f} kbit/s"
        if candidate < current:
            return Decision(candidate, f"down: {what} < {bandwidths[current] / 1e3:.0f} kbit/s")
        if candidate > current:
            if buffer_level < self.up_buffer:
                return Decision(current, f"stay: {what} would allow more, but buffer "
                                         f"{buffer_level:.1f} s < {self.up_buffer} s")
            return Decision(current + 1, f"up one: {what}, buffer {buffer_level:.1f} s")
        return Decision(current, f"stay: {what}")
