"""The "Watch it" pictures: ``make view-shots`` redraws each pattern's ``docs/sequence.png``.

For each entry of ``SHOTS``, the pattern's demo (a short act or two) runs with
``WIRELAB_TRACE_FILE`` set, the viewer (``viewer.py``) draws the recording, and
headless Debian Chromium (driven by playwright, the ``browser`` extra) takes a
picture of the whole diagram.  The same steps by hand::

    WIRELAB_TRACE_FILE=/tmp/ws.jsonl python -m learn_websocket.demo --act 1
    make view FILE=/tmp/ws.jsonl
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .processes import start_server
from .trace_events import ENV, read_events
from .waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# folder -> the demo command whose events the picture shows (short acts only)
SHOTS: dict[str, list[str]] = {
    "websocket": ["-m", "learn_websocket.demo", "--act", "1"],
    "webhook": ["-m", "learn_webhook.demo", "--act", "2"],
    "queue": ["-m", "learn_queue.demo", "--act", "1"],
    "pubsub": ["-m", "learn_pubsub.demo", "--act", "1"],
    "sse": ["-m", "learn_sse.demo", "--act", "2"],
    "dns": ["-m", "learn_dns.demo", "--act", "2"],
    "webrtc": ["-m", "learn_webrtc.demo", "--act", "2"],
    "mcp": ["-m", "learn_mcp.demo", "--act", "8"],
    "mini_git": ["-m", "learn_git.network.demo", "--act", "2"],
    "proxy": ["-m", "learn_proxy.demo", "--act", "2"],
    "graphql": ["-m", "learn_graphql.demo", "--act", "1"],
}


def record(argv: list[str], path: Path) -> list[dict]:
    env = {**os.environ, ENV: str(path)}
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return read_events(str(path))


def shoot(folder: str, argv: list[str], workdir: Path) -> Path:
    from playwright.sync_api import sync_playwright

    events_file = workdir / f"{folder}.jsonl"
    events = record(argv, events_file)
    out = ROOT / folder / "docs" / "sequence.png"
    out.parent.mkdir(exist_ok=True)
    with start_server([sys.executable, "-m", "wirelab_common.viewer", str(events_file), "--port", "0"],
                      name="viewer") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(server.url + "/")
            eventually(lambda: page.evaluate("Number(document.body.dataset.count || 0)") == len(events),
                       30, f"the {folder} events drawn")
            page.evaluate("window.scrollTo(0, 0)")  # the page follows the end; the picture starts at the top
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wirelab_common.viewer_shots", description=__doc__)
    parser.add_argument("folders", nargs="*", metavar="FOLDER",
                        help=f"only these patterns (default all: {' '.join(SHOTS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.folders) - set(SHOTS))
    if unknown:
        parser.error(f"no picture for {' '.join(unknown)} (known: {' '.join(SHOTS)})")
    with tempfile.TemporaryDirectory(prefix="wirelab-shots-") as workdir:
        for folder in args.folders or list(SHOTS):
            print(f"{folder}: {shoot(folder, SHOTS[folder], Path(workdir)).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
