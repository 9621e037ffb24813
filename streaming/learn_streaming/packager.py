"""Packaging with ffmpeg: a synthetic source cut into HLS renditions (and a DASH manifest beside them).

Reading order: playlists -> abr -> buffer -> **packager** -> app -> server -> player -> probe -> demo.

The source is made up on the spot, so nothing large is ever committed:
ffmpeg's ``testsrc2`` pattern with the frame number and a timecode burnt in
(``drawtext``, when this ffmpeg has it), the frame number again as a row
of black and white cells a program can read (``drawbox``, always: see
:func:`bit_strip`), and a 440 Hz ``sine`` tone.  One
ffmpeg run splits the picture into :data:`RENDITIONS` (each scaled and
encoded at its own bitrate) and lets the HLS muxer cut every rendition into
``SEGMENT`` -second MPEG-TS segments, write a media playlist per rendition
(``v0/index.m3u8`` ...) and the master playlist (``master.m3u8``) listing them.

Every rendition gets a keyframe at the same instants (``-g`` = one segment of
frames, scene-cut detection off), so segment *n* of every rendition starts on
the same frame: that is what lets a player switch rendition between any two
segments.  Packaging is small and quick on purpose: low resolutions, a few
seconds, ``-preset ultrafast``, so two cores build it in a few seconds into a
cache directory (``cache_dir()``), reused while the recipe is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

FPS = 25
SEGMENT = 1  # seconds per segment; the keyframe interval is the same
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
# The frame number as a row of bits a program can read back from the picture (a browser's canvas):
# BITS cells of CELL x CELL pixels on a black strip, cell b white when bit b of the frame number is
# set (least significant on the left), drawn on the source before scaling, so every rendition has it.
BITS, CELL = 10, 24  # 2**10 frames = 40 s at 25 fps: more than any on-demand source here
STRIP_X, STRIP_Y = 228, 12  # the first cell's top-left corner in the source (480x270)


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    video_kbps: int


# Low to high.  Far apart, so a throttled link clearly fits one and not the next.
RENDITIONS = (Rendition(192, 108, 100), Rendition(320, 180, 350), Rendition(480, 270, 900))


def has_drawtext(ffmpeg: str = "ffmpeg") -> bool:
    """Whether this ffmpeg was built with libfreetype's drawtext filter (and the font is here)."""
    result = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30)
    return " drawtext " in result.stdout and FONT.is_file()


def source_filter(renditions: tuple[Rendition, ...], burn_in: bool) -> str:
    """The filter graph: frame counter and timecode burnt in once, then one scaled copy per rendition."""
    chain = "[0:v]" + bit_strip() + ","
    if burn_in:
        text = f"fontfile={FONT}:fontcolor=white:box=1:boxcolor=black@0.6:fontsize=40"
        chain += (f"drawtext={text}:x=10:y=10:text='%{{frame_num}}',"
                  f"drawtext={text}:x=10:y=h-50:timecode='00\\:00\\:00\\:00':rate={FPS},")
    outputs = "".join(f"[s{i}]" for i in range(len(renditions)))
    graph = [f"{chain}split={len(renditions)}{outputs}"]
    graph += [f"[s{i}]scale={r.width}:{r.height}[v{i}]" for i, r in enumerate(renditions)]
    return ";".join(graph)


def bit_strip() -> str:
    """drawbox filters writing the frame number ``n`` in binary: a black strip, then one white cell
    per set bit, each drawn only on the frames where that bit is 1 (timeline ``enable``)."""
    boxes = [f"drawbox=x={STRIP_X - 6}:y={STRIP_Y - 6}:w={BITS * CELL + 12}:h={CELL + 12}:color=black:t=fill"]
    boxes += [f"drawbox=x={STRIP_X + b * CELL}:y={STRIP_Y}:w={CELL}:h={CELL}:color=white:t=fill:"
              f"enable='mod(floor(n/{2 ** b}),2)'" for b in range(BITS)]
    return ",".join(boxes)


def hls_command(out: Path, seconds: int, *, renditions: tuple[Rendition, ...] = RENDITIONS,
                burn_in: bool = True, live: bool = False, list_size: int = 6) -> list[str]:
    """The ffmpeg argv that packages ``seconds`` of the source into ``out`` (VOD, or live with -re)."""
    top = renditions[-1]
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    if live:
        argv += ["-re"]  # read the source at its own pace: a segment appears every SEGMENT seconds
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={top.width}x{top.height}:rate={FPS}:duration={seconds}",
             "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
             "-filter_complex", source_filter(renditions, burn_in)]
    for i, r in enumerate(renditions):
        argv += ["-map", f"[v{i}]", "-map", "1:a",
                 f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{r.video_kbps}k",
                 f"-bufsize:v:{i}", f"{r.video_kbps}k"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
             "-g", str(FPS * SEGMENT), "-keyint_min", str(FPS * SEGMENT), "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "48k", "-ac", "1",
             "-f", "hls", "-hls_time", str(SEGMENT), "-hls_segment_type", "mpegts",
             "-hls_segment_filename", str(out / "v%v" / "seg_%05d.ts"),
             "-master_pl_name", "master.m3u8",
             "-var_stream_map", " ".join(f"v:{i},a:{i}" for i in range(len(renditions)))]
    if live:  # a sliding window: the playlist keeps list_size segments, older files are deleted
        argv += ["-hls_list_size", str(list_size), "-hls_flags", "delete_segments+independent_segments"]
    else:
        argv += ["-hls_playlist_type", "vod", "-hls_flags", "independent_segments"]
    return [*argv, str(out / "v%v" / "index.m3u8")]


def cache_dir() -> Path:
    """Where generated media goes: ``$WIRELAB_CACHE/streaming``; else the checkout's
    ``.cache/streaming`` (an editable install); else ``~/.cache/wirelab/streaming``."""
    if base := os.environ.get("WIRELAB_CACHE"):
        return Path(base) / "streaming"
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache" / "streaming"
    return Path.home() / ".cache" / "wirelab" / "streaming"


def package_vod(seconds: int = 16, *, out: Path | None = None, burn_in: bool | None = None) -> Path:
    """Package ``seconds`` of the source for HLS into a directory (cached by recipe); return it."""
    if shutil.which("ffmpeg") is None:
        raise FileNotFoundError("ffmpeg is not installed: apt-get install ffmpeg")
    burn_in = has_drawtext() if burn_in is None else burn_in
    argv = hls_command(Path("OUT"), seconds, burn_in=burn_in)
    recipe = hashlib.sha256(json.dumps([argv, [asdict(r) for r in RENDITIONS]]).encode()).hexdigest()[:12]
    out = out or cache_dir() / f"vod-{recipe}"
    if (out / "master.m3u8").is_file() and (out / "dash.mpd").is_file():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(len(RENDITIONS)):
        (tmp / f"v{i}").mkdir(parents=True)
    (tmp / "dash").mkdir()
    try:
        subprocess.run(hls_command(tmp, seconds, burn_in=burn_in), check=True, timeout=120)
        subprocess.run(dash_command(tmp), check=True, timeout=60)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def dash_command(out: Path) -> list[str]:
    """Re-mux the same renditions (no re-encoding) into fMP4 with a DASH manifest, ``dash.mpd``."""
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    for i in range(len(RENDITIONS)):
        argv += ["-i", str(out / f"v{i}" / "index.m3u8")]
    for i in range(len(RENDITIONS)):
        argv += ["-map", f"{i}:v"]
    # TS carries H.264 and AAC under stream type tags MP4 has no use for: name the MP4 ones.
    argv += ["-map", "0:a", "-c", "copy", "-tag:v", "avc1", "-tag:a", "mp4a",
             "-f", "dash", "-seg_duration", str(SEGMENT),
             "-adaptation_sets", "id=0,streams=v id=1,streams=a",
             "-init_seg_name", "dash/init-$RepresentationID$.m4s",
             "-media_seg_name", "dash/chunk-$RepresentationID$-$Number%05d$.m4s"]
    return [*argv, str(out / "dash.mpd")]
