"""Benchmark: mini_git vs git 2.39 -- ``add`` + ``commit`` of 2,000 files, then ``status``.

Run: ``.venv/bin/python bench/bench_mini_git.py [--files 2000] [--repeat 9] [--rounds 3]``

Both programs get the same generated tree (100 directories x 20 files of a
few hundred bytes, on tmpfs ``/dev/shm`` when there is one), the same fixed
identity and dates, and are started as processes the same way
(``python -m learn_git ...`` vs ``git ...``), so interpreter start-up counts
against mini_git just as it would for a user (with Python's bytecode cache, kept in the
benchmark's temporary directory).  ``status`` is measured on a
clean tree after one warm-up run (which lets both refresh their index stat
data).  ``status`` is measured both ways: the default fast path (``status_fast.py``) and
the plain lesson (``python -m learn_git --plain status``, ``commands/status.py``).  Runs
alternate between the programs; medians are reported.  Targets (bench/README.md):
add+commit <= 1.5x git, status <= 5x git (met or not by the default path; the plain row is
reported for comparison).  The commit ids must agree.  A last line splits mini_git's
(fast) status CPU time into Python start-up, imports and the work itself.  With the
default 2,000 files, the CPU ratios of add + commit and of the fast status are handed to
``wirelab_common.bench_report.report``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from learn_git.sidebyside import fixed_env
from wirelab_common.bench_report import report

TARGETS = {"add + commit": 1.5, "status": 5.0}  # bench/README.md


def generate(root: Path, files: int) -> None:
    per_dir = 20
    for i in range(files):
        d = root / f"pkg{i // per_dir:03d}" / ("sub" if i % 2 else "")
        d.mkdir(parents=True, exist_ok=True)
        body = "".join(f"line {n} of file {i}: some text to make it a few hundred bytes\n" for n in range(5))
        (d / f"file_{i:05d}.txt").write_text(body)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one run of ``argv``.

    CPU time is the steadier figure on a shared machine: waiting for a core does not count.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def plus(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return a[0] + b[0], a[1] + b[1]


def add_commit(tool: list[str], work: Path, env: dict[str, str]) -> tuple[float, float]:
    """A fresh repository over the same files, then ``add .`` + ``commit``."""
    shutil.rmtree(work / ".git", ignore_errors=True)
    subprocess.run([*tool, "init", "-q", "-b", "main"] if tool[0] == "git" else [*tool, "init", "-q"],
                   cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
    add = timed([*tool, "add", "."], work, env)
    return plus(add, timed([*tool, "commit", "-q", "-m", "2,000 files"], work, env))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=9, help="status runs per program")
    parser.add_argument("--rounds", type=int, default=3, help="add + commit runs per program")
    args = parser.parse_args()
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="bench_mini_git_", dir=base))
    try:
        env = fixed_env(root / "home")
        # Python's bytecode cache on, as a user has it: without it every run compiles our modules
        # from source again (~35 ms).  Some shells here export PYTHONDONTWRITEBYTECODE to keep the
        # tree clean, so the cache goes to the benchmark's own temporary directory instead.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        tools = {"git": ["git"], "mini_git": [sys.executable, "-m", "learn_git"]}
        # the plain status runs in mini_git's repository, after the fast one
        status_tools = {**tools, "mini_git --plain": [sys.executable, "-m", "learn_git", "--plain"]}
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            n: {"add + commit": [], "status": []} for n in status_tools}
        for name in tools:
            (root / name).mkdir()
            generate(root / name, args.files)
        # Rounds alternate between the two programs, so a burst of load on the shared machine
        # hits both rather than one; the median of each column is reported.
        for _ in range(args.rounds):
            for name, tool in tools.items():
                samples[name]["add + commit"].append(add_commit(tool, root / name, env))
        where_run = {"git": "git", "mini_git": "mini_git", "mini_git --plain": "mini_git"}
        for name, tool in status_tools.items():
            timed([*tool, "status", "--porcelain"], root / where_run[name], env)  # warm-up: stat refreshed
        for _ in range(args.repeat):
            for name, tool in status_tools.items():
                samples[name]["status"].append(timed([*tool, "status", "--porcelain"], root / where_run[name],
                                                     env))
        results = {n: {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
                       for k, v in steps.items() if v} for n, steps in samples.items()}
        heads = {n: subprocess.run(["git", "rev-parse", "HEAD"], cwd=root / n, env=env, capture_output=True,
                                   text=True).stdout.strip() for n in tools}
        where = "tmpfs /dev/shm" if base else "the default temp dir"
        print(f"{args.files} files on {where}; medians of {args.rounds} add+commit "
              f"and {args.repeat} status runs; same commit id: {heads['git'] == heads['mini_git']}")
        print("| step             | measure | git 2.39  | mini_git  | ratio  | target | met |")
        print("|------------------|---------|-----------|-----------|--------|--------|-----|")
        rows = [("add + commit", "mini_git", "add + commit"), ("status (fast)", "mini_git", "status"),
                ("status (--plain)", "mini_git --plain", "status")]
        for label, name, step in rows:
            target = TARGETS[step]
            for i, measure in enumerate(("wall", "CPU")):
                g, m = results["git"][step][i], results[name][step][i]
                ratio = m / g if g else float("inf")
                met = "yes" if ratio <= target else "no"
                print(f"| {label:<16} | {measure:<7} | {g * 1000:>6.1f} ms | {m * 1000:>6.1f} ms "
                      f"| {ratio:>5.1f}x | {target:>5.1f}x | {met:<3} |")
        # Where mini_git's status time goes (CPU medians): what any Python program pays to start,
        # what importing the status command costs, and the rest -- the work itself.
        start = [timed([sys.executable, "-c", "pass"], root, env)[1] for _ in range(args.repeat)]
        imports = [timed([sys.executable, "-c", "import learn_git.status_fast"], root,
                         env)[1] for _ in range(args.repeat)]
        floor, loaded = statistics.median(start), statistics.median(imports)
        status_cpu = results["mini_git"]["status"][1]
        print(f"mini_git status CPU: {floor * 1000:.0f} ms Python start-up (with site), "
              f"{(loaded - floor) * 1000:.0f} ms importing the command, "
              f"{(status_cpu - loaded) * 1000:.0f} ms doing the work")
        # The summary rows (bench/README.md's targets): the CPU ratios, which waiting for a core
        # on the shared machine does not inflate (the wall ratios are printed above).
        if args.files == 2000:
            for row, step in (("add+commit 2,000 files", "add + commit"), ("status", "status")):
                ratio = results["mini_git"][step][1] / results["git"][step][1]
                report("mini_git", row, ratio, TARGETS[step], better="lower", anchor="git 2.39, CPU time")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
