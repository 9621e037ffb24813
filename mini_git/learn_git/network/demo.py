"""The network demo: our smart HTTP server with real git and mini_git as clients.

    python -m learn_git.network.demo [-v]

Reading order: run it first, read it last.  It starts ``learn_git.network.http_server``
on a free port with one bare repository, then:

1. real git clones it, with ``GIT_TRACE_PACKET=1`` so git shows its pkt-lines
   (protocol v2: ``ls-refs``, then ``fetch``);
2. mini_git clones it (our client's own ``>``/``<`` trace, protocol v0);
3. real git pushes a commit (401, then Basic credentials), traced the same way;
4. mini_git pushes a commit;
5. a stale clone tries a non-fast-forward push: refused by the client, and,
   forced, refused by the server;
6. mini_git clones from ``git http-backend`` (the reference server), whose
   upload-pack logs its side of the pkt-lines to a ``GIT_TRACE_PACKET`` file;
7. checks: ``git fsck --strict`` on the server's repository, and both clones
   agree with the server after a fetch.

Everything runs in a temporary directory with ``HOME`` pointing into it.
Exit 0 when every check held, 1 when one failed, 2 when git is missing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from wirelab_common.errors import check, require_binary, run_main
from wirelab_common.wiretrace import Trace

from ..repo import Repository
from .remote import clone, fetch
from .remote_push import push
from .smart_http_peers import bare_repository, git, git_env, make_history, start_backend, start_our_server

# Lines that repeat in every request and teach nothing new after the first time.
DULL = ("agent=", "object-format=")


def packet_lines(trace: bytes, processes: tuple[str, ...], limit: int = 40) -> list[str]:
    """git's GIT_TRACE_PACKET lines of ``processes``, without timestamps and repetitions.

    git traces a line once in each process it passes through (remote-curl is
    "git", the command itself "clone"); keeping one process avoids doubles.
    """
    lines: list[str] = []
    for line in trace.decode(errors="replace").splitlines():
        if "packet:" not in line:
            continue
        text = " ".join(line.split("packet:", 1)[1].split())
        process, _, payload = text.partition(" ")
        if process[:-1] in processes and not payload.startswith(DULL) and text not in lines[-1:]:
            lines.append(text if len(text) <= 110 else text[:107] + "...")
    return lines[:limit]


def head(env: dict[str, str], cwd: Path, name: str = "HEAD") -> str:
    return git(env, "rev-parse", name, cwd=cwd).stdout.decode().strip()


def run(verbose: bool) -> None:
    require_binary("git", "apt-get install git")
    trace = Trace("demo", verbose=verbose)
    client_trace = Trace("mini_git", verbose=verbose)
    with tempfile.TemporaryDirectory(prefix="learn-git-net-") as scratch:
        base = Path(scratch)
        env = git_env(base / "home")
        root = base / "served"
        root.mkdir()
        bare = bare_repository(env, root / "demo.git")
        seed = base / "seed"
        make_history(env, seed, 5)
        git(env, "push", "-q", str(bare), "main", cwd=seed)
        server = start_our_server(root, env, verbose=verbose)
        url = f"{server.url}/demo.git"
        push_url = f"http://alice:secret@127.0.0.1:{server.port}/demo.git"
        try:
            trace.banner(f"1. real git clones {url} (GIT_TRACE_PACKET=1, protocol v2)")
            cloned = git({**env, "GIT_TRACE_PACKET": "1"}, "clone", url, str(base / "by-git"))
            for line in packet_lines(cloned.stderr, ("clone", "sideband")):
                trace.note(f"git  {line}")
            check(head(env, base / "by-git") == head(env, bare, "main"), "git's clone is not at main")
            trace.state(f"real git cloned main at {head(env, bare, 'main')[:7]}")

            trace.banner("2. mini_git clones the same URL (protocol v0, our own trace)")
            mine = clone(url, str(base / "by-mini"), Trace("mini_git", verbose=True))
            check(head(env, base / "by-mini") == head(env, bare, "main"), "mini_git's clone is not at main")
            check(git(env, "status", "--porcelain", cwd=base / "by-mini").stdout == b"",
                  "mini_git's work tree differs from what it checked out")

            trace.banner("3. real git pushes a commit (401 first, then Basic credentials)")
            make_history(env, base / "by-git", 1, start=100)
            pushed = git({**env, "GIT_TRACE_PACKET": "1"}, "push", "-q", push_url, "main",
                         cwd=base / "by-git")
            # receive-pack stays protocol v0: refs with capabilities, commands, a pack, report-status.
            # Left out: flushes, and git's internal talk with its HTTP helper (refspecs, echoes).
            shown: set[str] = set()
            for line in packet_lines(pushed.stderr, ("git",)):
                if line in shown or line.endswith(" 0000") or ":refs/" in line or line.startswith("git< 00"):
                    continue
                shown.add(line)
                trace.note(f"git  {line}")
            check(head(env, bare, "main") == head(env, base / "by-git"), "git's push did not move main")
            trace.state(f"server main is now {head(env, bare, 'main')[:7]}")

            trace.banner("4. mini_git fetches that commit, adds one, and pushes it")
            fetch(mine, "origin", client_trace)
            git(env, "merge", "-q", "--ff-only", "origin/main", cwd=base / "by-mini")
            make_history(env, base / "by-mini", 1, start=200)
            updates = push(mine, "origin", [], client_trace, url=push_url)
            check([u.status for u in updates] == ["ok"], f"mini_git's push failed: {updates}")
            check(head(env, bare, "main") == head(env, base / "by-mini"), "mini_git's push did not move main")

            trace.banner("5. a stale clone pushes a non-fast-forward: refused, then refused by the server")
            stale = Repository.discover(base / "by-git")
            make_history(env, base / "by-git", 1, start=300)
            before = head(env, bare, "main")
            refused = push(stale, "origin", [], client_trace, url=push_url)
            check(refused[0].status == "rejected", "the client should refuse a non-fast-forward")
            trace.note(f"client said: {refused[0].describe().strip()}")
            forced = push(stale, "origin", [], client_trace, force=True, url=push_url)
            check(forced[0].status == "remote rejected" and forced[0].reason == "non-fast-forward",
                  f"the server should refuse a forced non-fast-forward, got {forced[0]}")
            trace.note(f"server said: {forced[0].describe().strip()}")
            check(head(env, bare, "main") == before, "a refused push moved main")

            trace.banner("6. mini_git clones from git http-backend (upload-pack traced by GIT_TRACE_PACKET)")
            packets = base / "backend-packets.log"
            backend = start_backend(root, {**env, "GIT_TRACE_PACKET": str(packets)})
            try:
                clone(f"{backend.url}/demo.git", str(base / "from-backend"), client_trace)
            finally:
                backend.stop()
            for line in packet_lines(packets.read_bytes(), ("upload-pack",), limit=10):
                trace.note(f"http-backend  {line}")
            check(head(env, base / "from-backend") == head(env, bare, "main"),
                  "mini_git's clone from http-backend is not at main")

            trace.banner("7. checks: git fsck --strict on the server; both clones agree after fetch")
            git(env, "fsck", "--strict", cwd=bare)
            git(env, "fetch", "-q", cwd=base / "by-git")
            main = head(env, bare, "main")
            check(head(env, base / "by-git", "origin/main") == main, "git's fetch is behind")
            fetch(mine, "origin", client_trace)
            check(head(env, base / "by-mini", "origin/main") == main, "our fetch is behind")
            trace.state("all checks passed: fsck clean, both clients agree with the server")
        finally:
            server.stop()
        if verbose:
            trace.banner("the server's own trace")
            for line in server.output().splitlines():
                print(f"  | {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_git.network.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show every pkt-line")
    args = parser.parse_args(argv)
    run_main(lambda: run(args.verbose))


if __name__ == "__main__":
    main()
