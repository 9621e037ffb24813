"""Autobahn|Testsuite against the hand-rolled echo server: RFC 6455 conformance, case by case.

Not part of the reading order: this is how we know the lesson's server is right.

The Autobahn|Testsuite (``wstest -m fuzzingclient``) connects to an echo
server ~250 times, breaks the protocol in every way the RFC forbids, and
grades each answer: OK, NON-STRICT (allowed but not ideal, e.g. failing a
bad UTF-8 message at its end rather than at the first bad byte),
INFORMATIONAL, UNIMPLEMENTED (compression, chapters 12-13) or FAILED.

``wstest`` is Python 2 code.  The first run builds it under ``.cache/``
as shared/PEERS.md describes (about 30 s); later runs reuse it::

    python -m learn_websocket.conformance                    # all but 9 (perf), 12, 13 (compression)
    python -m learn_websocket.conformance --cases 1-7,10 --json /tmp/autobahn.json

Exit 0 when no case of chapters 1-7 or 10 FAILED, 1 otherwise.  Without
Python 2.7 it prints a line starting ``SKIPPED:`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from wirelab_common.errors import CheckFailed, SetupError, run_main
from wirelab_common.processes import start_server

PY27 = Path("/root/.pyenv/versions/2.7.18/bin/python")
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
TOOLS_VENV = CACHE / "autobahn-virtualenv"  # Python 3, only to get a virtualenv that still knows 2.7
VENV27 = CACHE / "autobahn-py27"
REPORTS = CACHE / "autobahn-reports"
AGENT = "learn_websocket"
PINNED = [  # shared/PEERS.md: the last versions that install and run together on Python 2.7
    "txaio==2.1.0", "incremental==16.10.1", "pyOpenSSL==19.1.0", "cryptography==3.3.2",
    "Twisted==19.10.0", "zope.interface==4.6.0", "jinja2==2.11.3", "markupsafe==1.1.1",
    "Werkzeug==1.0.1", "klein==17.10.0", "service_identity==18.1.0", "unittest2==1.1.0",
    "six==1.16.0", "autobahn[twisted,accelerate]==0.10.9", "autobahntestsuite==25.10.1",
]
BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
REQUIRED_CHAPTERS = {1, 2, 3, 4, 5, 6, 7, 10}  # framing, pings, reserved bits, opcodes,
# fragmentation, UTF-8, closing, auto-fragmentation: what a correct endpoint must pass
DEFAULT_EXCLUDED = ["9.*", "12.*", "13.*"]  # 9: large payloads (slow); 12, 13: compression


def _run(argv: Sequence[object], what: str) -> None:
    result = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SetupError(f"{what} failed (exit {result.returncode}):\n{tail}",
                         f"delete {VENV27} and retry; the recipe is in shared/PEERS.md")


def ensure_wstest() -> Path:
    """The ``wstest`` script, building its Python 2.7 virtualenv if it is not there yet."""
    wstest = VENV27 / "bin" / "wstest"
    if wstest.exists():
        return wstest
    print(f"# building Autobahn|Testsuite in {VENV27} (once; about 30 s)", flush=True)
    if not (TOOLS_VENV / "bin" / "virtualenv").exists():
        _run([sys.executable, "-m", "venv", TOOLS_VENV], "creating a venv for virtualenv")
        # virtualenv 20.22 dropped Python 2.7 as a target.
        _run([TOOLS_VENV / "bin" / "pip", "install", "-q", "virtualenv<20.22"], "installing virtualenv")
    if VENV27.exists():
        shutil.rmtree(VENV27)  # a half-built one from an interrupted run
    _run([TOOLS_VENV / "bin" / "virtualenv", "-p", PY27, VENV27], "creating the Python 2.7 virtualenv")
    _run([VENV27 / "bin" / "pip", "install", "-q", *PINNED], "installing autobahntestsuite")
    return wstest


def parse_cases(spec: str | None) -> tuple[list[str], list[str]]:
    """``"1-7,10"`` -> (["1.*", ..., "7.*", "10.*"], []); ``None`` -> everything but 9, 12, 13."""
    if spec is None or spec == "default":
        return ["*"], list(DEFAULT_EXCLUDED)
    if spec == "all":
        return ["*"], []
    cases = []
    for token in spec.split(","):
        token = token.strip()
        if "-" in token:
            low, high = (int(part) for part in token.split("-"))
            cases += [f"{chapter}.*" for chapter in range(low, high + 1)]
        elif token.count(".") == 2:
            cases.append(token)  # one case, e.g. 7.1.5
        elif token:
            cases.append(f"{token}.*")
    return cases, []


def case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split("."))


def run_wstest(wstest: Path, port: int, cases: list[str], exclude: list[str], timeout: float) -> Path:
    """Point ``wstest -m fuzzingclient`` at ``ws://127.0.0.1:port``; return its report folder."""
    outdir = REPORTS / "servers"
    if outdir.exists():
        shutil.rmtree(outdir)  # never mix this run's verdicts with an older run's
    REPORTS.mkdir(parents=True, exist_ok=True)
    spec = {"outdir": str(outdir), "servers": [{"agent": AGENT, "url": f"ws://127.0.0.1:{port}"}],
            "cases": cases, "exclude-cases": exclude, "exclude-agent-cases": {}}
    spec_path = REPORTS / "fuzzingclient.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    with open(REPORTS / "wstest.log", "w") as log:
        result = subprocess.run([str(wstest), "-m", "fuzzingclient", "-s", str(spec_path)], cwd=REPORTS,
                                stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if result.returncode != 0 or not (outdir / "index.json").exists():
        raise SetupError(f"wstest failed (exit {result.returncode})", f"read {REPORTS / 'wstest.log'}")
    return outdir


def summarize(outdir: Path) -> dict:
    """Read ``index.json`` (agent -> case -> verdict) and the reports of the failed cases."""
    index = json.loads((outdir / "index.json").read_text())[AGENT]
    cases = {case_id: index[case_id]["behavior"] for case_id in sorted(index, key=case_key)}
    failed = []
    for case_id, behavior in cases.items():
        if behavior == "FAILED":
            report = json.loads((outdir / index[case_id]["reportfile"]).read_text())
            failed.append({"id": case_id, "description": report.get("description", ""),
                           "expectation": report.get("expectation", ""), "result": report.get("result", "")})
    chapters: dict[str, Counter] = {}
    for case_id, behavior in cases.items():
        chapters.setdefault(case_id.split(".")[0], Counter())[behavior] += 1
    return {"agent": AGENT, "counts": dict(Counter(cases.values())), "failed": failed, "cases": cases,
            "chapters": {chapter: dict(counts) for chapter, counts in chapters.items()}}


def print_table(summary: dict) -> None:
    print(f"{'chapter':<9}" + "".join(f"{name:>15}" for name in BEHAVIORS))
    for chapter, counts in summary["chapters"].items():
        print(f"{chapter:<9}" + "".join(f"{counts.get(name, 0):>15}" for name in BEHAVIORS))
    totals = summary["counts"]
    print(f"{'total':<9}" + "".join(f"{totals.get(name, 0):>15}" for name in BEHAVIORS))
    for case in summary["failed"]:
        print(f"FAILED {case['id']}: {case['description']}\n    expected: {case['expectation']}"
              f"\n    got:      {case['result']}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_websocket.conformance",
                                     description="Run Autobahn|Testsuite against the hand-rolled server.")
    parser.add_argument("--cases", help='e.g. "1-7,10" or "7.1.5"; default: all except 9, 12, 13; "all"')
    parser.add_argument("--json", metavar="OUT", help="also write the summary as JSON to OUT")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for wstest")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not PY27.exists():
        print(f"SKIPPED: Python 2.7 not found at {PY27}, see shared/PEERS.md (wstest needs it)", flush=True)
        return
    cases, exclude = parse_cases(args.cases)
    wstest = ensure_wstest()
    argv_server = [sys.executable, "-m", "learn_websocket.server", "--port", "0", "--quiet",
                   "--max-size", str(16 * 2**20)]  # chapter 9 sends messages of up to 16 MiB
    with start_server(argv_server, name="echo-server") as server:
        port = server.port
        print(f"# wstest -m fuzzingclient -> ws://127.0.0.1:{port}  cases {cases} excluding {exclude}",
              flush=True)
        outdir = run_wstest(wstest, port, cases, exclude, args.timeout)
    summary = summarize(outdir)
    print_table(summary)
    print(f"# reports: {outdir / 'index.html'}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    required_failures = [case["id"] for case in summary["failed"]
                         if case_key(case["id"])[0] in REQUIRED_CHAPTERS]
    if required_failures:
        raise CheckFailed(f"{len(required_failures)} case(s) FAILED: {', '.join(required_failures)}")


if __name__ == "__main__":
    run_main(main)
