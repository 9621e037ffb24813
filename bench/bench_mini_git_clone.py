"""mini_git network benchmark: a clone of 1,000 commits from our server beside git http-backend.

    python bench/bench_mini_git_clone.py [--commits 1000] [--rounds 3]

One generated repository (``git fast-import``: ``--commits`` commits, each
changing one of 200 small files in 20 directories) is served from one root by
two servers in the same run:

- **ours**: ``learn_git.http_server`` (FastAPI/uvicorn, protocol v2 ``fetch``,
  pack built in Python, stored entries and deltas copied, no delta search);
- **git http-backend** behind ``learn_git.cgi_bridge`` (the same uvicorn front,
  so the difference is the server behind it: C, with deltas reused from the
  stored pack).

The client is real git both times (``git clone --bare``: transfer and
``index-pack``, no checkout), so the client's work is the same apart from the
pack it is handed.  A third row shows our own client (``python -m learn_git
clone``, which also checks out) against our server.  Rounds alternate; the
median is printed.  There is no clone row in shared/TARGETS.md: the ratio to
git http-backend is reported as is.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from learn_git.smart_http_peers import git, git_env, start_backend, start_our_server
from wirelab_common.errors import run_main


def fast_import_stream(commits: int) -> bytes:
    """A ``git fast-import`` script making ``commits`` commits on main."""
    out = []
    for number in range(commits):
        path = f"dir{number % 20}/file{number % 200}.txt"
        data = (f"commit {number}\n" + "some text that stays the same\n" * (5 + number % 7)).encode()
        message = f"commit {number}\n".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Ada <ada@example.org> {1700000000 + number} +0000\n".encode())
        out.append(b"data %d\n%s" % (len(message), message))
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(b"data %d\n%s\n" % (len(data), data))
    return b"".join(out)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def run(commits: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-git-clone-") as scratch:
        base = Path(scratch)
        env = git_env(base / "home")
        root = base / "root"
        bare = root / "big.git"
        git(env, "init", "-q", "--bare", "-b", "main", str(bare))
        git(env, "fast-import", "--quiet", cwd=bare, input=fast_import_stream(commits))
        git(env, "gc", "-q", cwd=bare)     # one pack with deltas: what a served repository looks like
        count = git(env, "count-objects", "-v", cwd=bare).stdout.decode()
        print(f"repository: {commits} commits; {' '.join(count.split()[4:8])}")
        ours, our_port = start_our_server(root, env)
        backend, backend_port = start_backend(root, env)
        times: dict[str, list[float]] = {"ours": [], "backend": [], "mini_git client": []}
        sizes: dict[str, int] = {}
        try:
            for number in range(rounds):
                for name, port in (("ours", our_port), ("backend", backend_port)):
                    target = base / f"{name}-{number}.git"
                    times[name].append(timed(["git", "clone", "-q", "--bare",
                                              f"http://127.0.0.1:{port}/big.git", str(target)], env))
                    packs = list((target / "objects" / "pack").glob("*.pack"))
                    sizes[name] = sum(p.stat().st_size for p in packs)
                mine = [sys.executable, "-m", "learn_git", "clone", f"http://127.0.0.1:{our_port}/big.git",
                        str(base / f"mini-{number}")]
                times["mini_git client"].append(timed(mine, env))
        finally:
            ours.stop()
            backend.stop()
        reference = statistics.median(times["backend"])
        print(f"\nclone of {commits} commits, real git as client, median of {rounds} rounds "
              "(shared 2-core machine, noisy)")
        print(f"{'server (client)':<34} {'seconds':>8} {'vs http-backend':>16} {'pack bytes':>11}")
        rows = [("learn_git.http_server (git)", "ours"), ("git http-backend (git)", "backend"),
                ("learn_git.http_server (mini_git)", "mini_git client")]
        for label, key in rows:
            median = statistics.median(times[key])
            size = f"{sizes[key]:>11,}" if key in sizes else f"{'-':>11}"
            print(f"{label:<34} {median:>8.2f} {median / reference:>15.2f}x {size}")
        cold = times["ours"][0]
        print(f"{'  first clone (cold pack cache)':<34} {cold:>8.2f} {cold / reference:>15.2f}x")
        print("\nno clone target in shared/TARGETS.md: the ratio is reported as measured")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run_main(lambda: run(args.commits, args.rounds))


if __name__ == "__main__":
    main()
