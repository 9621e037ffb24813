"""Real clients of our server: ffmpeg and ffprobe read the playlists over HTTP; the player's frames check."""

from __future__ import annotations

import asyncio
import subprocess

import httpx
import pytest

from learn_streaming.player import Player
from learn_streaming.probe import continuity, frame_numbers
from tests.conftest import need_binary
from wirelab_common.wiretrace import Trace

pytestmark = [pytest.mark.differential, pytest.mark.timeout(90)]


def test_ffmpeg_copies_every_rendition_from_our_master_playlist(server):
    ffmpeg = need_binary("ffmpeg", "ffmpeg")
    argv = [ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-i", f"{server.url}/vod/master.m3u8",
            "-map", "0", "-c", "copy", "-f", "null", "-"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def video_packets(ffprobe: str, source: str) -> set[str]:
    """ffprobe's count of video packets (listed once per program and once per stream: a set)."""
    argv = [ffprobe, "-v", "error", "-select_streams", "v", "-count_packets",
            "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", source]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_ffprobe_counts_the_same_frames_through_http_as_on_disk(server, vod):
    ffprobe = need_binary("ffprobe", "ffmpeg")
    remote = video_packets(ffprobe, f"{server.url}/vod/v1/index.m3u8")
    assert remote == video_packets(ffprobe, str(vod / "v1" / "index.m3u8")) == {"400"}  # 16 s x 25 fps


def test_the_player_gets_every_frame_once_and_a_skipped_segment_is_caught(server, vod, tmp_path):
    async def play() -> list:
        async with httpx.AsyncClient(timeout=10) as client:
            player = Player(client, Trace("player", quiet=True), save_dir=tmp_path, max_buffer=60.0)
            return (await player.play_vod(f"{server.url}/vod/master.m3u8")).downloads

    downloads = asyncio.run(play())
    paths = [d.path for d in downloads]
    assert continuity(frame_numbers(paths)) is None
    gap = continuity(frame_numbers(paths[:5] + paths[6:]))
    assert gap is not None and "missing" in gap
    repeat = continuity(frame_numbers(paths[:7] + paths[6:]))
    assert repeat is not None and "appear twice" in repeat
    # Renditions mixed, as ABR mixes them: still one run of frames.
    mixed = [tmp_path / "mixed" / f"{i:05d}.ts" for i in range(len(paths))]
    mixed[0].parent.mkdir()
    for i, target in enumerate(mixed):
        target.write_bytes((vod / f"v{i % 3}" / f"seg_{i:05d}.ts").read_bytes())
    assert continuity(frame_numbers(mixed)) is None


def test_ffprobe_reads_the_dash_manifest_of_the_same_renditions(server):
    ffprobe = need_binary("ffprobe", "ffmpeg")
    argv = [ffprobe, "-v", "error", "-select_streams", "v", "-count_packets",
            "-show_entries", "stream=width,nb_read_packets", "-of", "csv=p=0", f"{server.url}/vod/dash.mpd"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Every representation of the MPD: the three widths, each with all 400 frames (one line per
    # stream, listed again per program: a set).
    assert set(result.stdout.split()) == {"192,400", "320,400", "480,400"}
