"""The player's buffer model: seconds of media downloaded but not yet played.  Pure: the clock is passed in.

Reading order: playlists -> abr -> **buffer** -> packager -> app -> server -> player -> probe -> demo.

A player downloads segments while it plays.  Each downloaded segment adds its
duration to the buffer; wall-clock time spent playing drains it.  When the
buffer runs dry while playing, the picture freezes: a **stall** (a
"rebuffering event"), which is what ABR exists to avoid.  Playback starts
(and restarts after a stall) once ``startup`` seconds are buffered.

The model only counts seconds; it never decodes anything.  Time is given to
:meth:`BufferModel.advance` by the caller, so tests replay exact schedules.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stall:
    at: float  # media time where the picture froze
    seconds: float = 0.0  # how long it stayed frozen (grows until playback resumes)


@dataclass
class BufferModel:
    startup: float = 1.0  # seconds buffered before playing (and before resuming after a stall)
    level: float = 0.0  # seconds buffered ahead of the playhead
    position: float = 0.0  # media seconds played
    playing: bool = False
    started: bool = False  # played at least once (waiting before the first frame is not a stall)
    startup_wait: float = 0.0  # wall seconds before the first frame
    stalls: list[Stall] = field(default_factory=list)

    def advance(self, elapsed: float) -> None:
        """``elapsed`` wall seconds passed: play from the buffer, or wait (a stall once started)."""
        if not self.playing:
            if self.started:
                self.stalls[-1].seconds += elapsed
            else:
                self.startup_wait += elapsed
            return
        played = min(elapsed, self.level)
        self.level -= played
        self.position += played
        if elapsed > played:  # the buffer ran dry mid-interval: frozen for the rest of it
            self.playing = False
            self.stalls.append(Stall(at=self.position, seconds=elapsed - played))

    def add(self, duration: float) -> None:
        """A segment of ``duration`` seconds arrived."""
        self.level += duration
        if not self.playing and self.level >= self.startup:
            self.playing = True
            self.started = True

    @property
    def stalled_seconds(self) -> float:
        return sum(s.seconds for s in self.stalls)
