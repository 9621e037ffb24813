"""Chromium plays our stream with hls.js (npm) through Media Source Extensions.

The page is ``about:blank`` with hls.js added, so every request it makes to our
server is cross-origin: the playlists and segments reach the player only
because the server answers with CORS headers.  The checks: hls.js raises no
fatal error, ``currentTime`` advances past 3 s, and two canvas grabs of the
video a second apart differ (the burnt-in frame counter and the pattern move).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import unavailable

pytestmark = [pytest.mark.differential, pytest.mark.timeout(120)]

MODULES = Path(__file__).resolve().parents[2] / ".cache" / "npm" / "node_modules"
HLS_JS = MODULES / "hls.js" / "dist" / "hls.min.js"

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

GRAB = """() => {
  const video = document.getElementById('v'), canvas = document.getElementById('c');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  return Array.from(context.getImageData(0, 0, 120, 60).data.filter((_, i) => i % 4 === 0));
}"""


def test_chromium_plays_our_stream_with_hls_js(server, chromium_page):
    if not HLS_JS.is_file():
        unavailable("npm package hls.js is not in .cache/npm (run: make npm-peers)")
    page = chromium_page
    page.set_content('<video id="v" muted playsinline></video><canvas id="c"></canvas>')
    page.add_script_tag(path=str(HLS_JS))
    levels = page.evaluate(START, f"{server.url}/vod/master.m3u8")
    assert levels == 3
    page.wait_for_function("document.getElementById('v').currentTime > 1 || window.fatal", timeout=30_000)
    first = page.evaluate(GRAB)
    page.wait_for_function("document.getElementById('v').currentTime > 3 || window.fatal", timeout=30_000)
    assert page.evaluate("window.fatal") is None
    second = page.evaluate(GRAB)
    assert any(first) and first != second  # a picture, and a moving one (the frame counter is up there)
    assert page.evaluate("document.getElementById('v').videoWidth") in (192, 320, 480)
