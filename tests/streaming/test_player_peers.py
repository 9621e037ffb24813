"""The player against a server nobody here wrote: Python's own ``http.server`` serving the same files.

HLS needs no special server: any static file server will do.  And a malformed
playlist from it ends playback with the line number our parser names.
"""

from __future__ import annotations

import asyncio
import shutil
import sys

import httpx
import pytest

from learn_streaming.player import PlaybackError, Player
from learn_streaming.probe import continuity, frame_numbers
from wirelab_common.ports import free_port
from wirelab_common.processes import start_process
from wirelab_common.wiretrace import Trace

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(90)]


@pytest.fixture
def static_server(vod, tmp_path):
    root = tmp_path / "www"
    shutil.copytree(vod, root / "vod")
    port = free_port()
    with start_process([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                        "--directory", str(root)], name="http.server", ready_port=port) as proc:
        proc.base, proc.root = f"http://127.0.0.1:{port}", root
        yield proc


def play(url: str, save) -> list:
    async def run() -> list:
        async with httpx.AsyncClient(timeout=10) as client:
            player = Player(client, Trace("player", quiet=True), save_dir=save, max_buffer=60.0)
            return (await player.play_vod(url)).downloads
    return asyncio.run(run())


def test_the_player_plays_from_a_plain_static_file_server(static_server, tmp_path):
    downloads = play(f"{static_server.base}/vod/master.m3u8", tmp_path)
    assert len(downloads) == 16
    assert continuity(frame_numbers([d.path for d in downloads])) is None


def test_a_malformed_media_playlist_ends_playback_with_its_line(static_server, tmp_path):
    playlist = static_server.root / "vod" / "v0" / "index.m3u8"
    lines = playlist.read_text().splitlines()
    lines[2] = "#EXT-X-TARGETDURATION:soon"  # line 3
    playlist.write_text("\n".join(lines) + "\n")
    with pytest.raises(PlaybackError, match=r"v0/index.m3u8: line 3: EXT-X-TARGETDURATION must be a decimal"):
        play(f"{static_server.base}/vod/master.m3u8", tmp_path)
