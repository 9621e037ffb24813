"""The benchmark's anchor: without Chromium it stops loudly; with it, both pairs run and report.

``bench/bench_webrtc.py`` measures our aiortc peers beside two Chromium pages
through our signaling server, in its own network namespace.  Missing Chromium
must be an error (exit 2 and a reason), never a quiet run without the anchor.
The smallest full run checks that the page's hooks (``webrtcTimes``,
``sendBulk``/``expectBulk``) and the report lines work; figures are not checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from learn_webrtc.netns import can_unshare
from tests.conftest import need_binary, unavailable
from tests.test_repository import ROOT

pytestmark = pytest.mark.differential

BENCH = str(ROOT / "bench" / "bench_webrtc.py")


def test_without_chromium_the_benchmark_fails_and_says_why(tmp_path):
    results = tmp_path / "results.jsonl"
    run = subprocess.run([sys.executable, BENCH, "--chromium", str(tmp_path / "no-chromium")],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "WIRELAB_BENCH_RESULTS": str(results)})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "the Chromium <-> Chromium anchor cannot run" in run.stderr
    assert "apt-get install chromium" in run.stderr
    assert not results.exists()  # nothing reported without the anchor


@pytest.mark.timeout(240)
def test_a_small_run_measures_both_pairs_and_reports_two_rows(tmp_path):
    need_binary("chromium", "chromium")
    why = can_unshare()
    if why:
        unavailable(why)
    results = tmp_path / "results.jsonl"
    run = subprocess.run([sys.executable, BENCH, "--mib", "1", "--rounds", "1", "--setups", "2"],
                         capture_output=True, text=True, timeout=220,
                         env={**os.environ, "WIRELAB_BENCH_RESULTS": str(results)})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-5000:]
    for row in ("data channel (ours)", "data channel (Chromium)", "ours (aiortc)", "Chromium <-> Chromium",
                "setup ours / Chromium"):
        assert row in run.stdout, out[-5000:]
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["pattern"], r["row"], r["target"], r["better"]) for r in lines] == [
        ("webrtc", "data channel throughput", None, "higher"),
        ("webrtc", "setup time", 1.5, "lower"),
    ]
    assert all(r["value"] > 0 and r["anchor"].startswith("Chromium ") for r in lines)
