"""The README's picture: headless Chromium playing our stream with hls.js, and what it read off the frame.

Not part of the lesson: ``python -m learn_streaming.picture streaming/docs/playing.png`` starts the
server, opens an ``about:blank`` page with hls.js (``make npm-peers``) in Debian's Chromium
(driven by playwright), plays ``/vod/master.m3u8`` for about three seconds, reads the frame
number from the bit cells the packager burns in (as ``tests/streaming/test_browser.py`` does)
and writes it under the video with ``currentTime`` and the rendition, then takes a screenshot.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wirelab_common.errors import SetupError, run_main
from wirelab_common.processes import start_server

from .packager import BITS, CELL, FPS, RENDITIONS, STRIP_X, STRIP_Y

ROOT = Path(__file__).resolve().parents[2]
HLS_JS = ROOT / ".cache" / "npm" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
CHROMIUM = "/usr/bin/chromium"
PAGE = """<body style="margin:12px;font:14px monospace;background:#fff">
<video id="v" muted playsinline style="width:480px;height:270px;background:#000"></video>
<canvas id="c" style="display:none"></canvas><pre id="caption"></pre></body>"""
PLAY = """url => new Promise((resolve, reject) => {
  const video = document.getElementById('v'), hls = new Hls();
  hls.on(Hls.Events.ERROR, (e, data) => { if (data.fatal) reject(data.details); });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.on(Hls.Events.FRAG_LOADED, (e, data) => { window.lastFragment = data.frag.url; });
  hls.loadSource(url);
  hls.attachMedia(video);
  const wait = () => video.currentTime > 3 ? resolve() : setTimeout(wait, 50);
  wait();
})"""
# Pause, then read the frame on screen: its cells (least significant bit left), currentTime, size.
CAPTION = """([bits, cell, x0, y0, sourceWidth, fps]) => {
  const video = document.getElementById('v'), canvas = document.getElementById('c');
  video.pause();
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const s = video.videoWidth / sourceWidth;
  let number = 0, cells = '';
  for (let b = 0; b < bits; b++) {
    const on = context.getImageData(Math.round((x0 + b * cell + cell / 2) * s),
                                    Math.round((y0 + cell / 2) * s), 1, 1).data[0] > 128;
    if (on) number += 2 ** b;
    cells += on ? '1' : '0';
  }
  document.getElementById('caption').textContent =
    `headless Chromium + hls.js ${Hls.version}, through Media Source Extensions\\n` +
    `rendition on screen: ${video.videoWidth}x${video.videoHeight}, last segment: ` +
    `${window.lastFragment.split('/').slice(-2).join('/')}\\n` +
    `bit cells (left = bit 0): ${cells} -> frame ${number}\\n` +
    `currentTime ${video.currentTime.toFixed(3)} s x ${fps} fps = ` +
    `frame ${(video.currentTime * fps).toFixed(1)}`;
  return [number, video.currentTime];
}"""


def take(out: Path) -> None:
    if not HLS_JS.is_file():
        raise SetupError("hls.js is not in .cache/npm", "make npm-peers")
    from playwright.sync_api import sync_playwright

    with start_server([sys.executable, "-m", "learn_streaming.server", "--port", "0", "-q"], name="server",
                      timeout=60) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                     "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 640, "height": 380})
            page.set_content(PAGE)
            page.add_script_tag(path=str(HLS_JS))
            page.evaluate(PLAY, f"{server.url}/vod/master.m3u8")
            number, time = page.evaluate(CAPTION, [BITS, CELL, STRIP_X, STRIP_Y, RENDITIONS[-1].width, FPS])
            page.screenshot(path=str(out))
        finally:
            browser.close()
    print(f"# picture: {out} (frame {number} read at currentTime {time:.3f} s)")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "playing.png")
    run_main(lambda: take(out))


if __name__ == "__main__":
    main()
