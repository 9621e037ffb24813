"""Chromium plays our stream with hls.js (npm) through Media Source Extensions, and reads the frame counter.

The page is ``about:blank`` with hls.js added, so every request it makes to our
server is cross-origin: the playlists and segments reach the player only
because the server answers with CORS headers.

The packager burns the frame number into every frame as a row of black and
white cells (``packager.bit_strip``).  For each of the next frames Chromium
presents (``requestVideoFrameCallback``), the page draws the video into a
canvas, reads the centre of each cell, and sends back the number it spells,
with ``currentTime`` at that moment.  The checks: hls.js raises no fatal
error; the numbers read are real (the strip's frame is black, the number is
in range); they only grow and cover more than a second of frames; and each
matches ``currentTime`` x 25 fps within a tolerance.  A player that froze
would present the same number (or no frame at all): the test then fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from learn_streaming.packager import BITS, CELL, FPS, RENDITIONS, STRIP_X, STRIP_Y
from tests.conftest import unavailable

pytestmark = [pytest.mark.differential, pytest.mark.timeout(120)]

MODULES = Path(__file__).resolve().parents[2] / ".cache" / "npm" / "node_modules"
HLS_JS = MODULES / "hls.js" / "dist" / "hls.min.js"
SOURCE_WIDTH = RENDITIONS[-1].width  # the strip is drawn at the source's size, then scaled with it
FRAMES_READ = 40  # presented frames to read: 1.6 s of video
DEADLINE_MS = 15_000  # 1.6 s of video, with room for a loaded machine
TOLERANCE = 0.2  # seconds between the number read and currentTime (a frame or two of lag, and rounding)

START = """url => new Promise((resolve, reject) => {
  if (!Hls.isSupported()) { reject('hls.js: Media Source Extensions not supported'); return; }
  const video = document.getElementById('v');
  const hls = new Hls();
  window.fatal = null;
  hls.on(Hls.Events.ERROR, (event, data) => {
    if (data.fatal) window.fatal = data.type + ' ' + data.details;
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (event, data) => {
    video.play().then(() => resolve(data.levels.length), e => reject(String(e)));
  });
  hls.loadSource(url);
  hls.attachMedia(video);
})"""

# For each of the next `count` presented frames: the frame number its cells spell, currentTime, the
# brightest border pixel (the strip's black frame: proof we are reading the strip), and the width;
# after `deadline` ms, whatever was seen by then.
READ = """([count, bits, cell, x0, y0, sourceWidth, deadline]) => new Promise(resolve => {
  const video = document.getElementById('v'), canvas = document.getElementById('c');
  const context = canvas.getContext('2d', {willReadFrequently: true});
  const seen = [];
  const red = (x, y, s) => context.getImageData(Math.round(x * s), Math.round(y * s), 1, 1).data[0];
  const onFrame = () => {
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const scale = video.videoWidth / sourceWidth;
    let number = 0;
    for (let b = 0; b < bits; b++) {
      if (red(x0 + b * cell + cell / 2, y0 + cell / 2, scale) > 128) number += 2 ** b;
    }
    const middle = y0 + cell / 2;
    const border = Math.max(red(x0 - 3, middle, scale), red(x0 + bits * cell + 3, middle, scale));
    seen.push({number, time: video.currentTime, border, width: video.videoWidth});
    if (seen.length >= count || window.fatal) resolve(seen); else video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  setTimeout(() => resolve(seen), deadline);  // a frozen player presents no more frames: end anyway
})"""


def test_chromium_plays_our_stream_and_the_frame_counter_follows_current_time(server, chromium_page):
    if not HLS_JS.is_file():
        unavailable("npm package hls.js is not in .cache/npm (run: make npm-peers)")
    page = chromium_page
    page.set_content('<video id="v" muted playsinline></video><canvas id="c"></canvas>')
    page.add_script_tag(path=str(HLS_JS))
    levels = page.evaluate(START, f"{server.url}/vod/master.m3u8")
    assert levels == 3
    page.wait_for_function("document.getElementById('v').currentTime > 1 || window.fatal", timeout=30_000)
    frames = page.evaluate(READ, [FRAMES_READ, BITS, CELL, STRIP_X, STRIP_Y, SOURCE_WIDTH, DEADLINE_MS])
    assert page.evaluate("window.fatal") is None
    report = [(f["number"], round(f["time"], 3), f["width"]) for f in frames]
    assert len(frames) == FRAMES_READ, f"{len(frames)} frames presented in {DEADLINE_MS} ms: frozen? {report}"
    assert all(f["border"] < 80 for f in frames), f"not reading the strip (its border is not black): {frames}"
    assert {f["width"] for f in frames} <= {r.width for r in RENDITIONS}, report
    numbers = [f["number"] for f in frames]
    assert all(b >= a for a, b in zip(numbers, numbers[1:], strict=False)), f"the counter went back: {report}"
    assert numbers[-1] - numbers[0] >= FPS, f"the counter should advance over a second of frames: {report}"
    for f in frames:  # the picture on screen is the one currentTime says
        assert abs(f["number"] / FPS - f["time"]) < TOLERANCE, f"frame {f['number']} at {f['time']}: {report}"
