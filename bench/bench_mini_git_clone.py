"""mini_git network benchmark: a clone from our server beside git http-backend.

    python bench/bench_mini_git_clone.py                  # both repositories of issue 27, 3 rounds each
    python bench/bench_mini_git_clone.py [--files 5000] [--commits 300] [--changes 20] [--rounds 3]
    python bench/bench_mini_git_clone.py --small          # 500 files, 50 commits, 1 round: quick
    python bench/bench_mini_git_clone.py --profile        # where our server's time goes (cProfile)

A generated repository (``git fast-import``): a first commit of ``--files``
small text files in 100 directories, then ``--commits`` - 1 commits each
editing ``--changes`` of them, then ``git gc`` (one pack with deltas, as a
served repository usually is).  Without those options the benchmark runs
the two repositories of issue 27 (:data:`NAMED`): 5,000 files x 300 commits
(20 files edited each), then 200 files x 1,000 commits (one edited each).
Each is served from one root by two servers in the same run:

- **ours**: ``learn_git.network.http_server`` (FastAPI/uvicorn, protocol v2 ``fetch``,
  pack built in Python, stored entries and deltas copied, no delta search; from the
  second clone on, the stored pack sent as it is, ``pack_reuse.py``);
- **git http-backend** behind ``learn_git.network.cgi_bridge`` (the same uvicorn front,
  so the difference is the server behind it: C, with deltas reused from the
  stored pack).

The client is real git both times (``git clone --bare``: transfer and
``index-pack``, no checkout), so the client's work is the same apart from the
pack it is handed.  The first clone from each freshly started server is the
*cold* row (ours resolves the stored pack then, and caches it, walks, and
finds that the clone wants exactly the stored pack's objects); the *warm*
rows are the medians of ``--rounds`` further clones, alternating servers.
The last two rows compare the clients: real ``git clone`` and ours
(``python -m learn_git clone``), both checking out the work tree, both from
our server, one after the other in each round; our client's ratio is to
real git's.  Beside wall time, each row gives the CPU
seconds of the server process (with the CGI children it reaped: http-backend,
upload-pack, pack-objects) and of the client, from ``/proc`` and
``getrusage``: on a shared machine they move much less than wall time.  The
targets (bench/README.md): a warm clone served by ours in at most 1.25x the
wall time of git http-backend, and our own client cloning within 3x real git;
the ratios are printed, nothing is asserted, and for the two named
repositories each is also handed to ``wirelab_common.bench_report.report``.

``--profile`` runs our server's answer to a clone (v2 ``fetch``: resolving
the stored pack, the walk, the pack; then the reused pack) in this process: first step by step in
CPU seconds without a profiler, then under cProfile, cold and warm, listing
the functions that take the time.  It is in-process because the server does
this work in a worker thread, which a ``python -m cProfile`` of the server
would not see.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from learn_git.network import pack_reuse, pack_write_ofs, pkt_line, upload_pack, upload_pack_v2, walk_fast
from learn_git.network.pack_stream import ResolvedPacks
from learn_git.network.pack_write import pack_from_store
from learn_git.network.smart_http_peers import git, git_env, start_backend, start_our_server
from learn_git.network.walk import objects_to_send
from learn_git.objects import parse_tree
from learn_git.odb import ObjectStore
from wirelab_common.bench_report import report
from wirelab_common.errors import run_main

DIRECTORIES = 100
# (files, commits, changes) -> the name of its rows in bench/README.md's targets table
NAMED = {(5000, 300, 20): "5,000 files x 300 commits", (200, 1000, 1): "1,000 commits"}


def fast_import_stream(files: int, commits: int, changes: int) -> bytes:
    """A ``git fast-import`` script: ``files`` files in the first commit, then edits on main."""
    def body(number: int, version: int) -> bytes:
        lines = "".join(f"line {i} of file {number}: some text that stays the same\n"
                        for i in range(10 + number % 20))
        return f"version {version}\n{lines}".encode()

    def path(number: int) -> str:
        return f"dir{number % DIRECTORIES:03d}/file{number:05d}.txt"

    out = []
    for commit in range(commits):
        message = f"commit {commit}\n".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Ada <ada@example.org> {1700000000 + commit} +0000\n".encode())
        out.append(b"data %d\n%s" % (len(message), message))
        edited = range(files) if commit == 0 else \
            sorted({(commit * 7919 + k * 104729) % files for k in range(changes)})
        for number in edited:
            data = body(number, commit)
            out.append(f"M 100644 inline {path(number)}\n".encode())
            out.append(b"data %d\n%s\n" % (len(data), data))
    return b"".join(out)


def make_repository(env: dict[str, str], bare: Path, files: int, commits: int, changes: int) -> str:
    git(env, "init", "-q", "--bare", "-b", "main", str(bare))
    git(env, "fast-import", "--quiet", cwd=bare, input=fast_import_stream(files, commits, changes))
    git(env, "gc", "-q", cwd=bare)
    counts = git(env, "count-objects", "-v", cwd=bare).stdout.decode().splitlines()
    count = dict(line.split(": ") for line in counts if line)
    objects = git(env, "rev-list", "--objects", "--all", cwd=bare).stdout.count(b"\n")
    return (f"repository: {files} files, {commits} commits ({changes} files edited per commit), "
            f"{objects} objects, one pack of {int(count['size-pack']):,} KiB")


class Sample(NamedTuple):
    wall: float
    server_cpu: float     # user + system seconds of the server process and its children
    client_cpu: float     # the same for git clone and the programs it runs


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children (/proc/PID/stat fields 14-17)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def timed(argv: list[str], env: dict[str, str], server_pid: int) -> Sample:
    server_before, client_before = process_cpu(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)
    wall = time.perf_counter() - start
    client = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (client.ru_utime - client_before.ru_utime) + (client.ru_stime - client_before.ru_stime)
    return Sample(wall, process_cpu(server_pid) - server_before, client_cpu)


def clone(env: dict[str, str], port: int, server_pid: int, target: Path) -> tuple[Sample, int]:
    """(times, bytes of the pack git stored) for one ``git clone --bare``."""
    sample = timed(["git", "clone", "-q", "--bare", f"http://127.0.0.1:{port}/big.git", str(target)],
                   env, server_pid)
    return sample, sum(p.stat().st_size for p in (target / "objects" / "pack").glob("*.pack"))


def median(samples: list[Sample]) -> Sample:
    return Sample(*(statistics.median(values) for values in zip(*samples, strict=True)))


def run(files: int, commits: int, changes: int, rounds: int, client: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-git-clone-") as scratch:
        base = Path(scratch)
        env = git_env(base / "home")
        root = base / "root"
        print(make_repository(env, root / "big.git", files, commits, changes))
        ours = start_our_server(root, env)
        backend = start_backend(root, env)
        our_port, backend_port = ours.port, backend.port
        servers = (("ours", our_port, ours.pid), ("backend", backend_port, backend.pid))
        samples: dict[str, list[Sample]] = {name: [] for name in
                                            ("ours", "backend", "mini_git client", "git client")}
        cold: dict[str, Sample] = {}
        sizes: dict[str, int] = {}
        try:
            for name, port, pid in servers:
                cold[name], sizes[name] = clone(env, port, pid, base / f"{name}-cold.git")
            for number in range(rounds):
                for name, port, pid in servers:
                    sample, sizes[name] = clone(env, port, pid, base / f"{name}-{number}.git")
                    samples[name].append(sample)
                if client:
                    url = f"http://127.0.0.1:{our_port}/big.git"
                    theirs = ["git", "clone", "-q", url, str(base / f"git-{number}")]
                    samples["git client"].append(timed(theirs, env, ours.pid))
                    mine = [sys.executable, "-m", "learn_git", "clone", url, str(base / f"mini-{number}")]
                    samples["mini_git client"].append(timed(mine, env, ours.pid))
        finally:
            ours.stop()
            backend.stop()
        load = os.getloadavg()[0]
        print(f"\nclone by real git (--bare); warm = median of {rounds} rounds after the cold one; "
              f"load average {load:.1f} on {os.cpu_count()} cores")
        print("CPU = user + system seconds of the server process (and its CGI children) / of the client")
        print(f"{'server (client)':<40} {'wall s':>7} {'ratio':>6} {'server CPU':>10} {'ratio':>6} "
              f"{'client CPU':>10} {'pack bytes':>11}")
        warm_ours, warm_backend = median(samples["ours"]), median(samples["backend"])
        rows = [("http_server (git), warm", warm_ours, warm_backend, "ours"),
                ("git http-backend (git), warm", warm_backend, warm_backend, "backend"),
                ("http_server (git), cold", cold["ours"], cold["backend"], "ours"),
                ("git http-backend (git), cold", cold["backend"], cold["backend"], "backend")]
        if client:
            git_client = median(samples["git client"])
            rows += [("http_server (git clone, checkout)", git_client, git_client, ""),
                     ("http_server (mini_git clone)", median(samples["mini_git client"]), git_client, "")]
        for label, sample, against, key in rows:
            size = f"{sizes[key]:>11,}" if key else f"{'-':>11}"
            print(f"{label:<40} {sample.wall:>7.2f} {sample.wall / against.wall:>5.2f}x "
                  f"{sample.server_cpu:>10.2f} {sample.server_cpu / max(against.server_cpu, 0.01):>5.2f}x "
                  f"{sample.client_cpu:>10.2f} {size}")
        print("\ntargets (bench/README.md): serving a warm clone <= 1.25x git http-backend; "
              "our client <= 3x git (both clients check out, from our server)")
        name = NAMED.get((files, commits, changes))
        if name is not None:
            report("mini_git", f"clone served to real git, {name}", warm_ours.wall / warm_backend.wall,
                   1.25, better="lower", anchor="git http-backend 2.39")
            if client:
                report("mini_git", f"our client cloning, {name}",
                       median(samples["mini_git client"]).wall / git_client.wall, 3, better="lower",
                       anchor="git clone 2.39")


def clone_request(wants: list[str]) -> bytes:
    """The v2 ``fetch`` body git sends for a clone: every branch and tag wanted, then done."""
    args = ["thin-pack", "no-progress", "ofs-delta", "include-tag", *(f"want {oid}" for oid in wants)]
    return (pkt_line.encode("command=fetch") + pkt_line.encode("agent=git/2.39") + pkt_line.DELIM
            + pkt_line.encode_all([*args, "done"]))


def phases(bare: Path, wants: list[str]) -> None:
    """Our clone answer step by step, in CPU seconds of this process (steadier than wall time on a
    shared machine), without a profiler (cProfile inflates per-call costs)."""
    clock = time.process_time
    start = clock()
    store = ResolvedPacks().store(ObjectStore(bare))
    resolved = clock()
    oids = objects_to_send(store, wants, [], walk_fast.tree_objects)  # what the server runs
    walked = clock()
    pack = pack_write_ofs.pack_from_store(store, oids)  # what the server runs for git (ofs-delta)
    packed = clock()
    plain = objects_to_send(store, wants, [])  # the lesson's walk (walk.tree_objects)
    walked_plain = clock()
    pack_from_store(store, oids)  # the lesson's pack (REF_DELTA)
    packed_plain = clock()
    upload_pack.pack_for(bare, store, wants, [], True, True)   # the server's first clone: walk, verdict kept
    first = clock()
    reused_count, reused = upload_pack.pack_for(bare, store, wants, [], True, True)   # the next ones
    again = clock()
    assert reused_count == len(oids), "pack_reuse.py and the walk disagree"
    assert plain == oids, "walk_fast.py and walk.py disagree"
    trees = [store.read(oid)[1] for oid in oids if store.read(oid)[0] == "tree"]
    before = clock()
    entries = sum(len(parse_tree(data)) for data in trees)
    parsed = clock()
    for data in trees:
        walk_fast.links(data)
    linked = clock()
    print(f"\nour clone answer in steps, CPU seconds (no profiler; {len(oids)} objects, "
          f"{len(pack):,} pack bytes):")
    steps = (("resolve the stored pack (cold only, then cached)", resolved - start),
             ("walk: commits, trees, blobs to send (walk_fast.py)", walked - resolved),
             (f"  of which reading {len(trees):,} trees ({entries:,} entries)", linked - parsed),
             ("the lesson's walk instead (walk.py)", walked_plain - packed),
             ("  of which parsing the trees (objects.parse_tree)", parsed - before),
             ("write the pack (copy stored entries, OFS_DELTA, SHA-1)", packed - walked),
             ("the lesson's pack instead (REF_DELTA; pack_write.py)", packed_plain - walked_plain),
             ("later clones: the stored pack as it is (pack_reuse.py)", again - first))
    for label, seconds in steps:
        print(f"  {label:<58} {seconds:6.2f} s")


def profile(files: int, commits: int, changes: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-git-clone-") as scratch:
        base = Path(scratch)
        env = git_env(base / "home")
        bare = base / "big.git"
        print(make_repository(env, bare, files, commits, changes))
        tips = git(env, "for-each-ref", "--format=%(objectname)", cwd=bare).stdout.decode().split()
        wants = sorted(set(tips))
        phases(bare, wants)
        body = clone_request(wants)
        cache = ResolvedPacks()
        pack_reuse.VERDICTS.clear()   # as in a fresh server: the first clone walks
        for label in ("cold (pack resolved, then cached; walked)", "warm (the stored pack reused, no walk)"):
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            reply, stats = upload_pack_v2.serve(bare, cache.store(ObjectStore(bare)), body)
            profiler.disable()
            seconds = time.perf_counter() - start
            print(f"\n## {label}: {seconds:.2f} s under cProfile, {stats['objects']} objects, "
                  f"{stats['pack_bytes']:,} pack bytes")
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
            print("\n".join(line for line in out.getvalue().splitlines()
                            if line.strip() and not line.startswith(("   Ordered", "   List"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=None, help="default: both repositories of NAMED")
    parser.add_argument("--commits", type=int, default=None)
    parser.add_argument("--changes", type=int, default=None, help="files edited by each later commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="500 files, 50 commits, 1 round (quick)")
    parser.add_argument("--no-client", action="store_true", help="skip the mini_git client row")
    parser.add_argument("--profile", action="store_true", help="profile our server's clone answer in-process")
    parser.add_argument("--top", type=int, default=18, help="functions listed by --profile")
    args = parser.parse_args()
    if args.small:
        args.files, args.commits, args.changes, args.rounds = 500, 50, 20, 1
    if args.files is None and args.commits is None and args.changes is None:
        shapes = list(NAMED) if not args.profile else [(5000, 300, 20)]
    else:
        shapes = [(args.files or 5000, args.commits or 300, args.changes or 20)]
    if args.profile:
        run_main(lambda: profile(*shapes[0], args.top))
    else:
        def both() -> None:
            for files, commits, changes in shapes:
                run(files, commits, changes, args.rounds, not args.no_client)
                print()
        run_main(both)


if __name__ == "__main__":
    main()
