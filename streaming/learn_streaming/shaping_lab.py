"""The throttled link, for real: the kernel's token bucket (``tc ... tbf``) on a private namespace's loopback.

Reading order: ... -> player -> probe -> **shaping_lab** -> demo.

Act 2 of the demo throttles inside the server (``app.Faults.rate_bps``): easy
to follow, but the server is being kind to the player.  Here nothing in our
code knows about the throttle.  The lab runs in a network namespace of its own
(``unshare -n``, root only), so its ``lo`` is private: it sets that ``lo``'s
MTU to Ethernet's 1500 bytes, starts the server and the player on it, and
after segment 4 puts a token-bucket filter on the link::

    tc qdisc replace dev lo root tbf rate 300kbit burst 16kb latency 1s

(a bucket of 16 KB refilled at 300 kbit/s; a packet waits up to 1 s for
tokens, then is dropped; TCP's congestion control then finds the rate).  After
segment 10 it deletes the qdisc.  The player must step down, then up again,
with the same verdict as act 2 (:func:`judge_adaptation`).  The MTU matters:
loopback's default 64 KiB packets are bigger than the bucket, and ``tbf``
drops a packet that can never fit.

    sudo .venv/bin/python -m learn_streaming.shaping_lab [-v] [--no-abr]

re-runs itself under ``unshare -n``; exit 0: stepped down and up, 1: did not,
2: cannot run here (not root, no ``unshare``, ``tc`` or ffmpeg).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

from .abr import Rule
from .packager import RENDITIONS, package_vod
from .player import Player, Report
from .probe import continuity, frame_numbers

THROTTLE_BPS = 300_000
THROTTLE_AFTER, RELEASE_AFTER = 4, 10  # segment indexes after which the link changes
INSIDE = "WIRELAB_STREAMING_NETNS"  # set when this process already runs in its namespace


def judge_adaptation(report: Report, trace: Trace, abr_on: bool) -> None:
    """The verdict of acts 2 and 6: top before the throttle, lower under it, up after; every frame once."""
    trace.note(f"renditions fetched: {report.renditions}")
    for sequence, before, after, reason in report.switches:
        trace.note(f"switch at #{sequence}: r{before} -> r{after} ({reason})")
    check_before_throttle(report)
    top = len(RENDITIONS) - 1
    throttled = report.renditions[THROTTLE_AFTER + 2:RELEASE_AFTER + 1]
    check(throttled and max(throttled) < top,
          f"under {THROTTLE_BPS // 1000} kbit/s the player should step down below r{top}: it fetched "
          f"{throttled} (ABR {'on' if abr_on else 'off'})")
    check(report.renditions[-1] > min(throttled),
          f"after the throttle the player should step up: {report.renditions}")
    buffer = report.buffer
    trace.note(f"buffer: {len(buffer.stalls)} stall(s), {buffer.stalled_seconds:.1f} s frozen, "
               f"first frame after {buffer.startup_wait:.2f} s")
    problem = continuity(frame_numbers([d.path for d in report.downloads if d.path]))
    check(problem is None, f"ffprobe: the fetched segments are not one run of frames: {problem}")
    trace.note("ffprobe: every frame once, across the renditions fetched")


def check_before_throttle(report: Report) -> None:
    """The first part of the verdict, checked as soon as it can be (when the throttle is about to
    start, and again at the end): without it, a run with ABR off would play on for nothing."""
    top = len(RENDITIONS) - 1
    check(top in report.renditions[:THROTTLE_AFTER + 1],
          f"the player should reach r{top} before the throttle: {report.renditions}")


def unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (a network namespace and tc)"
    for binary in ("unshare", "tc", "ip", "ffmpeg", "ffprobe"):
        if shutil.which(binary) is None:
            return f"{binary} not found (Debian: util-linux, iproute2, ffmpeg)"
    return None


def tc(trace: Trace, *args: str) -> None:
    argv = ["tc", "qdisc", *args]
    trace.sent(" ".join(argv))
    subprocess.run(argv, check=True, timeout=10)


async def play_through_the_link(trace: Trace, abr_on: bool, save: Path) -> Report:
    subprocess.run(["ip", "link", "set", "lo", "up", "mtu", "1500"], check=True, timeout=10)
    trace.state("in a private network namespace: lo up, mtu 1500")
    with start_server([sys.executable, "-m", "learn_streaming.server", "--port", "0", "-q"],
                      name="server", timeout=60) as server:
        async with httpx.AsyncClient(timeout=10) as client:
            player = Player(client, trace.child("player"), rule=Rule(enabled=abr_on), save_dir=save,
                            segment_timeout=8.0)

            async def link(index: int) -> None:
                if index == THROTTLE_AFTER:
                    check_before_throttle(player.report)
                    tc(trace, "replace", "dev", "lo", "root", "tbf", "rate", f"{THROTTLE_BPS // 1000}kbit",
                       "burst", "16kb", "latency", "1s")
                elif index == RELEASE_AFTER:
                    tc(trace, "del", "dev", "lo", "root")

            return await player.play_vod(f"{server.url}/vod/master.m3u8", on_segment=link)


async def run(args: argparse.Namespace) -> None:
    trace = Trace("lab", verbose=args.verbose)
    if os.environ.get(INSIDE) != "1":
        why = unavailable()
        if why:
            raise SetupError(f"the shaping lab cannot run: {why}", "run it as root on Linux with iproute2")
        package_vod()  # build the media before the namespace, so its time is not the lab's
        argv = ["unshare", "-n", sys.executable, "-m", "learn_streaming.shaping_lab", *sys.argv[1:]]
        trace.state("re-running inside `unshare -n` (a network namespace of its own)")
        code = subprocess.run(argv, env={**os.environ, INSIDE: "1"}, timeout=150).returncode
        sys.exit(code)
    with tempfile.TemporaryDirectory(prefix="learn-streaming-lab-") as tmp:
        report = await play_through_the_link(trace, not args.no_abr, Path(tmp))
        judge_adaptation(report, trace, not args.no_abr)
    trace.note("all checks passed: the player followed the kernel's throttle down and back up")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_streaming.shaping_lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="headers and playlists in full")
    parser.add_argument("--no-abr", action="store_true", help="the player keeps its first rendition")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
