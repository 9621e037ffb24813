"""Synthetic media: a video track whose frames carry a counter in their pixels, and a tone.

Reading order: ... peer -> file_transfer -> **media** -> turn -> chat -> demo.

Media tracks go over RTP/SRTP (RFC 8834, RFC 3711), not over the data channel,
and they are *lossy*: VP8 (RFC 6386) throws away detail to fit the bitrate, so a
counter written as small digits could come out blurred.  We draw it as a grid of
big blocks instead, one bit per block, white (Y=235) for 1 and black (Y=16) for 0.
Only the luma plane (Y of YUV 4:2:0) carries it; chroma stays grey.  Each block
is 80x60 pixels, far larger than VP8's 16x16 macroblocks, so even a heavily
quantised frame keeps the block's brightness on the right side of the middle.

    +----+----+----+----+
    | b15| b14| b13| b12|     a 320x240 frame = 4x4 blocks = 16 bits:
    +----+----+----+----+     the frame counter, most significant bit first
    | b11| ...               (it wraps after 65535 frames, about 36 minutes at 30 fps)

``draw_counter``/``read_counter`` are pure (bytes in, bytes or int out); the
track classes are the thin layer that aiortc calls 30 (video) or 50 (audio)
times a second.  Decoding on the receiving side gives a check a test can make:
frames arrive, and their counters only go up.
"""

from __future__ import annotations

import fractions
import math
import struct

from aiortc import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT = 320, 240
GRID = 4  # GRID x GRID blocks
BITS = GRID * GRID
ONE, ZERO, GREY = 235, 16, 128  # studio-range luma for white and black; neutral chroma


def draw_counter(counter: int, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """The Y plane (width x height bytes, no padding) showing ``counter`` as blocks."""
    bw, bh = width // GRID, height // GRID
    rows = []
    for gy in range(GRID):
        row = b"".join(
            bytes([ONE if counter >> (BITS - 1 - (gy * GRID + gx)) & 1 else ZERO]) * bw for gx in range(GRID)
        )
        row = row.ljust(width, bytes([ZERO]))
        rows.append(row * bh)
    return b"".join(rows).ljust(width * height, bytes([ZERO]))


def read_counter(luma: bytes, width: int, height: int, stride: int | None = None) -> int:
    """The counter drawn in a (decoded) Y plane: sample the centre of each block."""
    stride = stride or width
    bw, bh = width // GRID, height // GRID
    value = 0
    for gy in range(GRID):
        for gx in range(GRID):
            x, y = gx * bw + bw // 2, gy * bh + bh // 2
            # Average a 3x3 patch: one pixel could be ringing from a block edge.
            patch = [luma[(y + dy) * stride + x + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            value = value << 1 | (sum(patch) / len(patch) > GREY)
    return value


def tone_samples(start: int, count: int, rate: int, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """``count`` signed 16-bit little-endian samples of a sine wave, from sample ``start``."""
    return struct.pack(f"<{count}h", *(
        int(amplitude * math.sin(2 * math.pi * hz * (start + i) / rate)) for i in range(count)
    ))


class CounterVideoTrack(VideoStreamTrack):
    """320x240 frames at 30 fps; frame n shows n in 16 blocks (see the module docstring).

    ``step=0`` freezes the counter (a stalled camera: the demo's ``--frozen-video``).
    """

    def __init__(self, step: int = 1) -> None:
        super().__init__()
        self.counter = 0
        self.step = step
        self._chroma = bytes([GREY]) * (WIDTH // 2 * HEIGHT // 2)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()  # paces the track at 30 fps
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        y, u, v = frame.planes
        luma = draw_counter(self.counter)
        if y.line_size == WIDTH:
            y.update(luma)
        else:  # rows padded for alignment: copy row by row
            y.update(b"".join(luma[r * WIDTH:(r + 1) * WIDTH].ljust(y.line_size, b"\0")
                              for r in range(HEIGHT)))
        for plane in (u, v):
            plane.update(bytes([GREY]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.counter = (self.counter + self.step) % (1 << BITS)
        return frame


def counter_of(frame: VideoFrame) -> int:
    """Read the counter from a received, decoded frame (any size at least GRID*3 pixels)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    return read_counter(bytes(plane), frame.width, frame.height, plane.line_size)


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz sine, 20 ms frames of 16-bit mono at 48 kHz (Opus's own rate)."""

    RATE = 48000

    def __init__(self) -> None:
        super().__init__()
        self.sample = 0
        self._pace = AudioStreamTrack()  # borrow aiortc's pacing: one frame per 20 ms of wall clock

    async def recv(self) -> AudioFrame:
        await self._pace.recv()
        count = self.RATE // 50
        frame = AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(tone_samples(self.sample, count, self.RATE))
        frame.pts, frame.sample_rate = self.sample, self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        self.sample += count
        return frame


def peak(frame: AudioFrame) -> int:
    """Largest absolute sample of a received s16 frame: a tone is loud, silence is ~0."""
    if frame.format.name != "s16":
        return 0
    data = bytes(frame.planes[0])[: frame.samples * len(frame.layout.channels) * 2]
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    return max((abs(s) for s in samples), default=0)
