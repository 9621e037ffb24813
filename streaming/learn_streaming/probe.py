"""What the player got, checked by ffprobe: every frame of the source, once, across segments and renditions.

Reading order: playlists -> abr -> buffer -> packager -> app -> server -> player -> **probe** -> demo.

The source has a frame counter burnt into the picture (``packager.py``);
the same count is in the timestamps: frame *n* has presentation time
``n / FPS`` (plus the muxer's start offset, the same in every rendition,
since one ffmpeg run wrote them all).  ffprobe reads the video packet
timestamps of the downloaded segments, joined in the order played; the frame
numbers of all segments, whatever rendition each came from, must then be one
run with no gap and no repeat.  A player that skipped a segment, fetched one twice, or switched
rendition at the wrong place fails this check.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .packager import FPS

TS_CLOCK = 90_000  # MPEG-TS timestamps count a 90 kHz clock


def video_pts(paths: list[Path]) -> list[int]:
    """The presentation timestamps of the video packets in ``paths``, in order: one ffprobe run over
    their concatenation (``concat:`` protocol; MPEG-TS segments join into one stream), which is
    what a player's demuxer reads too, and a tenth of the time of one ffprobe per segment."""
    if not paths:
        return []
    if any("|" in str(path) for path in paths):  # the concat protocol's separator
        return [pts for path in paths for pts in video_pts_of(f"file:{path}")]
    return video_pts_of("concat:" + "|".join(str(path) for path in paths))


def video_pts_of(url: str) -> list[int]:
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0",
            "-show_entries", "packet=pts", "-of", "csv=p=0"]
    result = subprocess.run([*argv, url], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise ValueError(f"ffprobe cannot read {url[:200]}: {result.stderr.strip()}")
    return [int(line.split(",")[0]) for line in result.stdout.split() if line.strip()]


def frame_numbers(paths: list[Path]) -> list[int]:
    """Frame numbers (from timestamps, counted from the earliest) of every video packet in ``paths``."""
    pts = video_pts(paths)
    origin = min(pts, default=0)
    return [round((p - origin) * FPS / TS_CLOCK) for p in pts]


def continuity(frames: list[int]) -> str | None:
    """None when ``frames`` is one run (sorted: no gap, no repeat); otherwise what is wrong."""
    if not frames:
        return "no frames at all"
    ordered = sorted(frames)
    repeats = sorted({f for f in ordered if ordered.count(f) > 1})
    if repeats:
        return f"frames {repeats[:5]} appear twice"
    gaps = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b != a + 1]
    if gaps:
        return f"frames missing between {gaps[:3]}"
    return None
