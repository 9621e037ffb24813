"""A segment that is slow twice: the player times out, retries once, then steps down for that segment.

The server's fault switch (``POST /_faults`` with ``delay``) holds back the first
byte of one top-rendition segment for its next two requests.  The player's
segment timeout is shorter than that delay, so both attempts fail; it must then
fetch the same segment from the rendition below and lose nothing.  The same run
without the delay must not step down: the step-down is the slowness's doing.

And slow without failing: two segments in a row that arrive, but 1.5 s late,
pull the throughput estimate (the harmonic mean of the last three) under the
top rendition's BANDWIDTH / 0.8, and the ABR rule steps down for the next
segment; one such segment is outweighed by the fast ones around it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from learn_streaming.player import Player, Report
from learn_streaming.probe import continuity, frame_numbers
from wirelab_common.wiretrace import Trace

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(90)]

SLOW = "vod/v2/seg_00003.ts"
TIMEOUT = 2.0  # the player's segment timeout (never reached by a normal download); the fault: 2.5 s


def play(base: str, save, delay: dict, timeout: float = TIMEOUT) -> Report:
    async def run() -> Report:
        async with httpx.AsyncClient(timeout=10) as client:
            (await client.post(f"{base}/_faults", json={"delay": delay})).raise_for_status()
            # Start at the top, no pacing (a buffer as long as the film): only the fault can cause a switch.
            player = Player(client, Trace("player", quiet=True), start=2, save_dir=save,
                            segment_timeout=timeout, max_buffer=60.0)
            return await player.play_vod(f"{base}/vod/master.m3u8")
    return asyncio.run(run())


def test_a_segment_slow_twice_is_retried_then_fetched_from_the_rendition_below(server, tmp_path):
    report = play(server.url, tmp_path, {SLOW: [2.5, 2.5]})
    assert report.retries == ["#3 r2: TimeoutError", "#3 r2: TimeoutError"]
    assert report.switches[0] == (3, 2, 1, "step down after TimeoutError")
    assert report.downloads[3].sequence == 3 and report.downloads[3].rendition == 1
    assert continuity(frame_numbers([d.path for d in report.downloads])) is None  # nothing lost


def test_without_the_delay_the_same_run_does_not_step_down(server, tmp_path):
    report = play(server.url, tmp_path, {})
    assert report.retries == [] and report.switches == []
    assert report.renditions == [2] * 16


def test_a_segment_slow_once_is_retried_at_the_same_rendition(server, tmp_path):
    report = play(server.url, tmp_path, {SLOW: 2.5})
    assert report.retries == ["#3 r2: TimeoutError"] and report.switches == []
    assert report.downloads[3].rendition == 2


def test_two_slow_downloads_in_a_row_make_the_abr_rule_step_down(server, tmp_path):
    slow = {"vod/v2/seg_00003.ts": 1.5, "vod/v2/seg_00004.ts": 1.5}
    report = play(server.url, tmp_path, slow, timeout=6.0)
    assert report.retries == []  # nothing failed: they were only slow
    sequence, before, after, reason = report.switches[0]
    assert (sequence, before) == (5, 2) and after < 2 and reason.startswith("down: "), report.switches
    assert report.renditions[:5] == [2] * 5


def test_one_slow_download_does_not_move_the_abr_rule(server, tmp_path):
    report = play(server.url, tmp_path, {"vod/v2/seg_00003.ts": 1.5}, timeout=6.0)
    assert report.retries == [] and report.switches == [] and report.renditions == [2] * 16
