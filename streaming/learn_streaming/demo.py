"""The streaming demo: ``make demo-streaming`` (``python -m learn_streaming.demo [-v]``).

Reading order: read this last; it drives everything else in the folder.

Six acts, each checked, so the demo is also a test:

1. **Packaging.**  ffmpeg turns the synthetic source into three renditions
   of one-second segments, a master playlist and, for comparison, a DASH
   manifest (``packager.py``); our parser reads the master and every media
   playlist.
2. **Adaptive bitrate on demand.**  The server starts; the player starts at
   the lowest rendition and steps up while the link is fast; after segment 4
   the server shapes segment bodies to 300 kbit/s and the player must step
   down; after segment 10 the limit goes and it must step up again.  ffprobe
   then finds every frame exactly once across the segments it fetched.
3. **A missing segment and a slow one.**  A segment answers 404 twice: the
   player retries, then steps down and gets it from the rendition below.
   Another answers only after 2.5 s, twice: the player times out at 2 s,
   retries, times out again and steps down for it too.
4. **Live.**  A second server runs ffmpeg live; the player follows the
   sliding window (EXT-X-MEDIA-SEQUENCE advances, ffprobe finds every frame
   of the 8 segments it fetched once, the first segment it saw is deleted:
   404); then the encoder is paused (SIGSTOP) and the player
   must report that the playlist stalled.
5. **A real client.**  ffmpeg reads our master playlist over HTTP and copies
   every rendition without an error.
6. **The kernel throttles.**  As root, ``shaping_lab.py`` runs act 2 again in
   a network namespace of its own, with ``tc``'s token bucket on the link
   instead of the server's throttle; not root, the act says it is skipped.

Exit 0 when every check passed, 1 when one failed.  ``--act N`` runs one act.
Each switch turns a mechanism off, and its act must then fail: ``--no-abr``
(acts 2 and 6: the player keeps its first rendition), ``--no-retry`` (act 3: the
first failure ends playback), ``--no-stall-detection`` (act 4: the player
waits for a stalled playlist for ever; the demo gives up after 8 s).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from wirelab_common.errors import CheckFailed, SetupError, check, run_main
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

from .abr import Rule
from .packager import RENDITIONS, package_vod
from .player import PlaybackError, Player
from .playlists import MasterPlaylist, MediaPlaylist, parse
from .probe import continuity, frame_numbers
from .shaping_lab import RELEASE_AFTER, THROTTLE_AFTER, THROTTLE_BPS, check_before_throttle, judge_adaptation
from .shaping_lab import unavailable as lab_unavailable

# The player reports a stall after 3 target durations (3 s) without change, reloading every 0.5 s:
# more than twice that, and it will not.
STALL_GIVE_UP = 8.0


def act_packaging(trace: Trace) -> Path:
    trace.banner("Act 1: packaging -- one synthetic source, three renditions, HLS and DASH")
    out = package_vod()
    master = parse((out / "master.m3u8").read_text())
    trace.note(f"packaged into {out}")
    for line in (out / "master.m3u8").read_text().splitlines():
        if line:
            trace.note(f"  master.m3u8 | {line}")
    check(isinstance(master, MasterPlaylist) and len(master.variants) == len(RENDITIONS),
          f"master.m3u8 should list {len(RENDITIONS)} variants")
    for variant in master.variants:  # type: ignore[union-attr]
        media = parse((out / variant.uri).read_text())
        check(isinstance(media, MediaPlaylist) and media.endlist,
              f"{variant.uri}: not a finished media playlist")
        trace.note(f"{variant.uri}: {variant.bandwidth // 1000} kbit/s {variant.resolution}, "
                   f"{len(media.segments)} segments of {media.target_duration} s")  # type: ignore[union-attr]
    representations = len(re.findall(r"<Representation ", (out / "dash.mpd").read_text()))
    trace.note(f"dash.mpd: {representations} representations (the same renditions, re-muxed to fMP4)")
    check(representations == len(RENDITIONS) + 1, f"dash.mpd should hold {len(RENDITIONS)} video + 1 audio")
    return out


async def set_faults(client: httpx.AsyncClient, base: str, trace: Trace, **faults: object) -> None:
    trace.sent(f"POST /_faults {faults}")
    response = await client.post(f"{base}/_faults", json=faults)
    response.raise_for_status()


async def act_abr(trace: Trace, base: str, args: argparse.Namespace, tmp: Path) -> None:
    trace.banner("Act 2: adaptive bitrate -- fast, then throttled to 300 kbit/s, then fast again")
    save = tmp / "vod"
    save.mkdir()
    async with httpx.AsyncClient(timeout=10) as client:
        player = Player(client, trace.child("player"), rule=Rule(enabled=not args.no_abr), save_dir=save,
                        segment_timeout=6.0)

        async def shape(index: int) -> None:
            if index == THROTTLE_AFTER:
                check_before_throttle(player.report)
                await set_faults(client, base, trace, rate_bps=THROTTLE_BPS)
            elif index == RELEASE_AFTER:
                await set_faults(client, base, trace, rate_bps=None)

        report = await player.play_vod(f"{base}/vod/master.m3u8", on_segment=shape)
    judge_adaptation(report, trace, abr_on=not args.no_abr)


async def act_failures(trace: Trace, base: str, args: argparse.Namespace, tmp: Path) -> None:
    trace.banner("Act 3: a segment answers 404 twice, another answers late twice")
    save = tmp / "failures"
    save.mkdir()
    async with httpx.AsyncClient(timeout=10) as client:
        await set_faults(client, base, trace, missing={"vod/v2/seg_00004.ts": 2},
                         delay={"vod/v2/seg_00008.ts": [2.5, 2.5]})
        # A buffer as long as the film: no pacing, so this act takes seconds, not the film's length.
        player = Player(client, trace.child("player"), start=2, save_dir=save, segment_timeout=2.0,
                        retry=not args.no_retry, max_buffer=60.0)
        try:
            report = await player.play_vod(f"{base}/vod/master.m3u8")
        except PlaybackError as exc:
            raise CheckFailed(f"playback ended: {exc}") from None
    for retry in report.retries:
        trace.note(f"retried: {retry}")
    check(any(s[0] == 4 and s[2] == 1 for s in report.switches),
          f"after two 404s the player should step down at #4: {report.switches}")
    check(any(s[0] == 8 and s[2] == 1 and "TimeoutError" in s[3] for s in report.switches),
          f"after timing out twice at r2 the player should step down at #8: {report.switches}")
    problem = continuity(frame_numbers([d.path for d in report.downloads if d.path]))
    check(problem is None, f"ffprobe: {problem}")
    trace.note("nothing lost: every frame once, the failed segment from the rendition below")


async def act_live(trace: Trace, args: argparse.Namespace, tmp: Path) -> None:
    trace.banner("Act 4: live -- a sliding window, expiring segments, a stalled encoder")
    argv = [sys.executable, "-m", "learn_streaming.server", "--port", "0", "--live", "--window", "4", "-q"]
    with start_server(argv, name="live") as server:
        base = server.url
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(100):  # ffmpeg writes the first playlists within a few seconds
                if (await client.get(f"{base}/live/v0/index.m3u8")).status_code == 200 and \
                        (await client.get(f"{base}/live/master.m3u8")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            save = tmp / "live"
            save.mkdir()
            player = Player(client, trace.child("player"), save_dir=save, segment_timeout=3.0)
            report = await player.follow_live(f"{base}/live/master.m3u8", segments=8)
            sequences = sorted(set(report.media_sequences))
            trace.note(f"EXT-X-MEDIA-SEQUENCE seen: {sequences}")
            check(len(sequences) >= 3, f"the live window should slide: media sequences {sequences}")
            problem = continuity(frame_numbers([d.path for d in report.downloads if d.path]))
            check(problem is None, f"ffprobe: the live segments are not one run of frames: {problem}")
            trace.note(f"ffprobe: {len(report.downloads)} live segments, every frame once")
            earliest = report.downloads[0]
            first = f"{base}/live/v{earliest.rendition}/seg_{earliest.sequence:05d}.ts"
            for _ in range(60):
                gone = (await client.get(first)).status_code
                if gone == 404:
                    break
                await asyncio.sleep(0.25)
            trace.note(f"the first segment played, {first.rsplit('/', 2)[-2:]}, now answers {gone}")
            check(gone == 404, "a segment that left the window should be deleted")
            await set_faults(client, base, trace, encoder_paused=True)
            stall_after = float("inf") if args.no_stall_detection else 3.0
            player = Player(client, trace.child("player"), segment_timeout=3.0)
            try:
                async with asyncio.timeout(STALL_GIVE_UP):
                    report = await player.follow_live(f"{base}/live/master.m3u8", segments=30,
                                                      stall_after=stall_after)
            except TimeoutError:
                raise CheckFailed(f"the encoder stopped, but after {STALL_GIVE_UP:.0f} s the player had not "
                                  "said so") from None
            check(report.live_stalled, "the player should report the stalled playlist")
            trace.note(f"player: {report.live_stalled}")


def act_ffmpeg(trace: Trace, base: str) -> None:
    trace.banner("Act 5: ffmpeg as the client -- it reads our master playlist over HTTP")
    argv = ["ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-i", f"{base}/vod/master.m3u8",
            "-map", "0", "-c", "copy", "-f", "null", "-"]
    trace.note("$ " + " ".join(argv))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(result.returncode == 0 and not result.stderr.strip(),
          f"ffmpeg failed reading our playlists (exit {result.returncode}): {result.stderr.strip()[:500]}")
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "program=program_id", "-of", "csv=p=0",
                            f"{base}/vod/master.m3u8"], capture_output=True, text=True, timeout=60)
    programs = probe.stdout.split()
    trace.note(f"ffmpeg copied every stream without an error; ffprobe sees {len(programs)} programs")
    check(len(programs) == len(RENDITIONS), f"ffprobe should see {len(RENDITIONS)} programs: {programs}")


def act_shaping_lab(trace: Trace, args: argparse.Namespace) -> None:
    trace.banner("Act 6: the same throttle in the kernel -- tc tbf on a private namespace's link")
    why = lab_unavailable()
    if why:
        trace.note(f"skipped: {why}; act 2 showed the same adaptation with the server's own throttle")
        return
    argv = [sys.executable, "-m", "learn_streaming.shaping_lab", *(["-v"] if args.verbose else []),
            *(["--no-abr"] if args.no_abr else [])]
    code = subprocess.run(argv, timeout=160).returncode
    check(code == 0, f"the shaping lab failed (exit {code}): see its lines above")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_streaming.demo",
                                     description="HLS: packaging, adaptive bitrate, failures, live.")
    parser.add_argument("-v", "--verbose", action="store_true", help="headers and playlists in full")
    parser.add_argument("--act", type=int, choices=(1, 2, 3, 4, 5, 6), help="run one act only")
    parser.add_argument("--no-abr", action="store_true",
                        help="acts 2 and 6: the player keeps its first rendition")
    parser.add_argument("--no-retry", action="store_true",
                        help="act 3: the first failed segment ends playback")
    parser.add_argument("--no-stall-detection", action="store_true",
                        help="act 4: the player does not watch the live playlist for a stall")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    for binary in ("ffmpeg", "ffprobe"):
        if shutil.which(binary) is None:
            raise SetupError(f"{binary} not found on PATH", "apt-get install ffmpeg")
    trace = Trace("demo", verbose=args.verbose)
    acts = [args.act] if args.act else [1, 2, 3, 4, 5, 6]
    act_packaging(trace) if 1 in acts else package_vod()
    with tempfile.TemporaryDirectory(prefix="learn-streaming-") as tmp, \
            start_server([sys.executable, "-m", "learn_streaming.server", "--port", "0", "-q"],
                         name="server", timeout=60) as server:
        if 2 in acts:
            await act_abr(trace, server.url, args, Path(tmp))
        if 3 in acts:
            await act_failures(trace, server.url, args, Path(tmp))
        if 4 in acts:
            await act_live(trace, args, Path(tmp))
        if 5 in acts:
            act_ffmpeg(trace, server.url)
    if 6 in acts:
        act_shaping_lab(trace, args)
    trace.note(f"all acts checked ({', '.join(map(str, acts))})")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
