"""``make demo``: every pattern's demo in turn, to the end, then a summary table.

    python -m wirelab_common.tour [ARGS...]               # the whole tour
    python -m wirelab_common.tour --only dns [ARGS...]    # one pattern (make demo-dns)

ARGS (such as ``-v``) go to every demo.  ``--pcap FILE`` (as root) records each
demo's loopback traffic for Wireshark (``wirelab_common.capture``); when the run
has several demo modules, each gets its own file, FILE with the module's name
added (``/tmp/t.pcap`` -> ``/tmp/t-learn_dns.demo.pcap``).  A demo whose commands are missing is
not started (the table says what to install); one that fails does not stop
the tour.  Each demo has a time limit, so the tour always ends.

Exit 0 only when every demo ran and passed; otherwise 1 (a demo failed) or
2 (a demo could not run here), after the table.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from .patterns import PATTERNS, Pattern, by_folder
from .system_deps import find, fix_hint

DEMO_TIMEOUT = 300.0  # seconds; the slowest demo takes about 40 s on 2 cores


@dataclass
class Result:
    pattern: str
    status: str  # passed | FAILED | not run | timed out
    seconds: float = 0.0
    why: str = ""  # for anything but "passed": what went wrong and what to do


def pcap_for(pcap: str, module: str, several: bool) -> str:
    """The capture file of one demo module: ``pcap`` itself, or with the module's name when several run."""
    if not several:
        return pcap
    stem, ext = os.path.splitext(pcap)
    return f"{stem}-{module}{ext or '.pcap'}"


def run_demo(module: str, args: list[str], timeout: float, pcap: str | None = None) -> tuple[int | None, str]:
    """Run ``python -m module args``: stdout to the terminal, stderr echoed and kept.

    With ``pcap``, inside ``python -m wirelab_common.capture --pcap PCAP --``.
    Returns (exit code or None on time-out, the last line the demo wrote to stderr).
    """
    argv = [sys.executable, "-m", module, *args]
    if pcap:
        argv = [sys.executable, "-m", "wirelab_common.capture", "--pcap", pcap, "--", *argv]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)
    tail: list[str] = []

    def echo() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.strip():
                tail[:] = [line.strip()]

    reader = threading.Thread(target=echo, daemon=True)
    reader.start()
    try:
        code: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the demo's own servers are in its process group
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        code = None
    reader.join(5)
    return code, (tail[0] if tail else "")


def run_pattern(pattern: Pattern, args: list[str], timeout: float, pcap: str | None = None,
                several: bool = False) -> Result:
    missing = [cmd for cmd in pattern.needs if find(cmd) is None]
    if missing:
        for cmd in missing:
            print(f"# {pattern.folder}: not started: needs {fix_hint(cmd)}", file=sys.stderr, flush=True)
        return Result(pattern.folder, "not run", why="; ".join(f"needs {fix_hint(c)}" for c in missing))
    started = time.monotonic()
    for module in pattern.demos:
        code, last = run_demo(module, args, timeout, pcap and pcap_for(pcap, module, several))
        if code != 0:
            seconds = time.monotonic() - started
            if code is None:
                why = f"{module} still running after {timeout:.0f} s"
                return Result(pattern.folder, "timed out", seconds, why)
            status = "not run" if code == 2 else "FAILED"  # 2: the machine is not set up for it
            return Result(pattern.folder, status, seconds, f"{module} exit {code}: {last}")
    return Result(pattern.folder, "passed", time.monotonic() - started)


def table(results: list[Result]) -> str:
    lines = [f"{'pattern':<10} {'result':<9} {'seconds':>7}  what to do", "-" * 78]
    for r in results:
        lines.append(f"{r.pattern:<10} {r.status:<9} {r.seconds:7.1f}  {r.why}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wirelab_common.tour", description=__doc__.split("\n")[0])
    parser.add_argument("--only", metavar="PATTERN", help="run this pattern's demo alone (no table)")
    parser.add_argument("--timeout", type=float, default=DEMO_TIMEOUT, help="seconds per demo")
    parser.add_argument("--pcap", metavar="FILE", help="record each demo's loopback traffic (as root)")
    args, demo_args = parser.parse_known_args(argv)

    if args.only:
        try:
            pattern = by_folder(args.only)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
        result = run_pattern(pattern, demo_args, args.timeout, args.pcap, len(pattern.demos) > 1)
        if result.status != "passed":
            print(f"{pattern.folder}: {result.status}: {result.why}", file=sys.stderr)
        return {"passed": 0, "not run": 2}.get(result.status, 1)

    started = time.monotonic()
    results = []
    for n, pattern in enumerate(PATTERNS, 1):
        print(f"\n# ===== demo {n}/{len(PATTERNS)}: {pattern.folder} " + "=" * 40, flush=True)
        results.append(run_pattern(pattern, demo_args, args.timeout, args.pcap, several=True))
    passed = sum(r.status == "passed" for r in results)
    print(f"\n# the tour: {passed} of {len(results)} demos passed in {time.monotonic() - started:.0f} s")
    print(table(results), flush=True)
    if passed == len(results):
        return 0
    if all(r.status in ("passed", "not run") for r in results):
        print("# some demos could not run on this machine: install what the table names, then make demo")
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
