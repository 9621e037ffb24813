"""streaming benchmark: segments/s and MB/s served by our server and by nginx, same files, same run.

    make bench-streaming      (or: python bench/bench_streaming.py [--duration S] [--connections N])

The on-demand package (``learn_streaming.packager.package_vod``, cached) is
copied into a temporary directory that nginx's workers may read; our server
(``learn_streaming.server -q``, with its fast path), the same server with
``--readable`` (every request through the Starlette app, the lesson) and nginx
(``sendfile on``, the anchor, bench/README.md: >= 0.5x nginx) serve it.  The load client is ``wrk``
(Debian), one thread, N keep-alive connections, on three paths: a segment of
the top rendition, one of the lowest, and a media playlist.  Then the startup
time: our player (``learn_streaming.player``) from the master playlist to the
first segment in hand, against each server, median of 20; and, when Debian's
Chromium and hls.js (``make npm-peers``) are here, the time to the first
frame on screen: from ``hls.loadSource()`` on an ``about:blank`` page to the
video's first ``requestVideoFrameCallback``, median of 5 page loads.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from learn_streaming.packager import package_vod
from learn_streaming.player import Player
from wirelab_common.bench_report import report
from wirelab_common.nginx_proxy import find_nginx, worker_user_directive
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.wiretrace import Trace

PY = sys.executable
MODULES = Path(__file__).resolve().parents[1] / ".cache" / "npm" / "node_modules"
HLS_JS = MODULES / "hls.js" / "dist" / "hls.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIRST_FRAME = """url => new Promise((resolve, reject) => {
  const video = document.getElementById('v'), hls = new Hls();
  hls.on(Hls.Events.ERROR, (e, data) => { if (data.fatal) reject(data.details); });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  const started = performance.now();
  video.requestVideoFrameCallback(() => resolve(performance.now() - started));
  hls.loadSource(url);
  hls.attachMedia(video);
})"""
PATHS = [("top segment", "/vod/v2/seg_00003.ts"), ("low segment", "/vod/v0/seg_00003.ts"),
         ("media playlist", "/vod/v1/index.m3u8")]
UNITS = {"B": 1e-6, "KB": 1e-3, "MB": 1.0, "GB": 1e3}
NGINX_CONF = """{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/tmp;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location ~ \\.m3u8$ {{
            add_header Cache-Control "max-age=1";
            add_header Access-Control-Allow-Origin "*";
        }}
        location ~ \\.ts$ {{
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header Access-Control-Allow-Origin "*";
        }}
    }}
}}
"""


def wrk(url: str, duration: int, connections: int) -> tuple[float, float, int]:
    """(requests/s, MB/s, non-2xx count) from one wrk run."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out).groups()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, float(value) * UNITS[unit], int(bad.group(1)) if bad else 0


async def startup_ms(base: str, runs: int = 20) -> float:
    """Median milliseconds from GET master.m3u8 to the first segment's last byte, with our player."""
    times = []
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(runs):
            player = Player(client, Trace("player", quiet=True))
            started = time.perf_counter()
            await player.load_master(f"{base}/vod/master.m3u8")
            playlist = await player.media(0)
            url = f"{base}/vod/v0/{playlist.segments[0].uri}"
            await player.download(playlist.segments[0], url, 0)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def first_frame_ms(targets: dict[str, str], runs: int = 5) -> dict[str, float] | None:
    """Median ms to the first frame in Chromium with hls.js, per target; None without them."""
    if not HLS_JS.is_file() or shutil.which("chromium") is None:
        return None
    from playwright.sync_api import sync_playwright
    results: dict[str, list[float]] = {name: [] for name in targets}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                for name, base in targets.items():  # interleaved, so drift touches both alike
                    page = browser.new_page()
                    page.set_content('<video id="v" muted playsinline></video>')
                    page.add_script_tag(path=str(HLS_JS))
                    results[name].append(page.evaluate(FIRST_FRAME, f"{base}/vod/master.m3u8"))
                    page.close()
        finally:
            browser.close()
    return {name: statistics.median(times) for name, times in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("error: needs wrk (Debian: apt-get install wrk, or make system-deps)")
    nginx = find_nginx()
    started: list[ManagedProcess] = []
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers run as nobody
        shutil.copytree(package_vod(), root / "vod")
        (root / "tmp").mkdir()
        port = free_port()
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=worker_user_directive(), prefix=root, port=port, root=root))
        try:
            ours = start_server([PY, "-m", "learn_streaming.server", "--port", "0", "-q"], name="ours",
                                timeout=60)
            started.append(ours)
            readable = start_server([PY, "-m", "learn_streaming.server", "--port", "0", "-q", "--readable"],
                                    name="readable", timeout=60)
            started.append(readable)
            started.append(start_process([nginx, "-p", str(root), "-c", str(conf)], name="nginx",
                                         ready_port=port))
            targets = {"nginx": f"http://127.0.0.1:{port}", "ours": ours.url}
            loaded = {**targets, "readable": readable.url}
            print(f"# wrk -t1 -c{args.connections} -d{args.duration}s (keep-alive)")
            print(f"{'path':16} {'target':9} {'req/s':>9} {'MB/s':>8} {'vs nginx':>9}")
            for label, path in PATHS:
                results = {name: wrk(base + path, args.duration, args.connections)
                           for name, base in loaded.items()}
                for name, (rate, mbs, bad) in results.items():
                    ratio = mbs / results["nginx"][1] if results["nginx"][1] else 0.0
                    note = f"  ({bad} non-2xx!)" if bad else ""
                    print(f"{label:16} {name:9} {rate:9.0f} {mbs:8.1f} {ratio:8.2f}x{note}", flush=True)
                nginx_mbs = results["nginx"][1]
                for name in ("ours", "readable"):
                    if name == "readable" and "segment" not in label:
                        continue
                    row = label if name == "ours" else f"{label}, readable server"
                    report("streaming", row, results[name][1] / nginx_mbs if nginx_mbs else 0.0,
                           0.5 if name == "ours" and "segment" in label else None, anchor="nginx, wrk")
            print("# startup: master + media playlist + first segment with our player, median of 20")
            for name, base in targets.items():
                print(f"{'startup':16} {name:7} {asyncio.run(startup_ms(base)):8.1f} ms", flush=True)
            frames = first_frame_ms(targets)
            if frames is None:
                print("# first frame in Chromium: skipped (needs Debian chromium and `make npm-peers`)")
            else:
                print("# first frame in Chromium with hls.js 1.7.4, from loadSource(), median of 5")
                for name, ms in frames.items():
                    print(f"{'first frame':16} {name:7} {ms:8.1f} ms", flush=True)
        finally:
            for proc in reversed(started):
                proc.stop()


if __name__ == "__main__":
    main()
