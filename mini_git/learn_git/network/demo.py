"""The network demo: our smart HTTP server with real git and mini_git as clients.

    python -m learn_git.network.demo [-v] [--act N] [switch]

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

Act 3's commit carries a 100 KB file and git's ``http.postBuffer`` is set to
its minimum (64 KiB), so git first sends a lone ``0000`` probe, which the
server must answer with an empty 200, and then the pack in chunks.

Everything runs in a temporary directory with ``HOME`` pointing into it.
Exit 0 when every check held, 1 when one failed, 2 when git is missing.
``--act N`` stops after act N.  Each act has a switch that turns off what it
shows, so that its check fails (exit 1, saying what went wrong):
``--git-protocol-v0`` (1), ``--no-checkout`` (2), ``--no-credentials`` and
``--no-probe`` (3), ``--no-fetch`` (4), ``--server-allows-non-ff`` (5: the
server started with ``--allow-non-fast-forward``), ``--no-packet-trace`` (6)
and ``--corrupt-server`` (7: a byte of the server's pack flipped before fsck).
"""

from __future__ import annotations

import argparse
import random
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


class Stop(Exception):
    """--act N reached: the remaining acts are skipped."""


def run(args: argparse.Namespace) -> None:
    require_binary("git", "apt-get install git")
    trace = Trace("demo", verbose=args.verbose)
    with tempfile.TemporaryDirectory(prefix="learn-git-net-") as scratch:
        base = Path(scratch)
        env = git_env(base / "home")
        root = base / "served"
        root.mkdir()
        bare = bare_repository(env, root / "demo.git")
        make_history(env, base / "seed", 5)
        git(env, "push", "-q", str(bare), "main", cwd=base / "seed")
        options = ("--allow-non-fast-forward",) if args.server_allows_non_ff else ()
        server = start_our_server(root, env, verbose=args.verbose, options=options)
        try:
            acts = Acts(args, trace, base, env, bare, server)
            for number, act in enumerate(acts.all, start=1):
                act()
                if number == args.act and number < len(acts.all):
                    trace.note(f"stopped after act {number} (--act)")
                    break
        finally:
            server.stop()
        if args.verbose:
            trace.banner("the server's own trace")
            for line in server.output().splitlines():
                print(f"  | {line}")


class Acts:
    """The seven acts, in order; each one's switch (``args``) turns its mechanism off."""

    def __init__(self, args, trace: Trace, base: Path, env: dict[str, str], bare: Path, server) -> None:
        self.args, self.trace, self.base, self.env = args, trace, base, env
        self.bare, self.server = bare, server
        self.client_trace = Trace("mini_git", verbose=args.verbose)
        self.url = f"{server.url}/demo.git"
        self.push_url = f"http://alice:secret@127.0.0.1:{server.port}/demo.git"
        self.all = [self.git_clones, self.mini_clones, self.git_pushes, self.mini_pushes,
                    self.non_fast_forward, self.from_backend, self.checks]

    def main(self) -> str:
        return head(self.env, self.bare, "main")

    def git_clones(self) -> None:
        self.trace.banner(f"1. real git clones {self.url} (GIT_TRACE_PACKET=1, protocol v2)")
        version = ["-c", "protocol.version=0"] if self.args.git_protocol_v0 else []
        cloned = git({**self.env, "GIT_TRACE_PACKET": "1"}, *version, "clone", self.url,
                     str(self.base / "by-git"))
        lines = packet_lines(cloned.stderr, ("clone", "sideband"))
        for line in lines:
            self.trace.note(f"git  {line}")
        check(head(self.env, self.base / "by-git") == self.main(), "git's clone is not at main")
        check(any("command=ls-refs" in line for line in lines), "real git did not speak protocol v2 (no "
              "command=ls-refs in its packet trace)" + (" (--git-protocol-v0)" if version else ""))
        self.trace.state(f"real git cloned main at {self.main()[:7]}")

    def mini_clones(self) -> None:
        self.trace.banner("2. mini_git clones the same URL (protocol v0, our own trace)")
        self.mine = clone(self.url, str(self.base / "by-mini"), Trace("mini_git", verbose=True),
                          checkout=not self.args.no_checkout)
        check(head(self.env, self.base / "by-mini") == self.main(), "mini_git's clone is not at main")
        status = git(self.env, "status", "--porcelain", cwd=self.base / "by-mini").stdout.decode()
        check(status == "", f"mini_git's work tree and index differ from main: {status.split()[:6]}"
              + (" (--no-checkout: nothing was checked out)" if self.args.no_checkout else ""))

    def git_pushes(self) -> None:
        self.trace.banner("3. real git pushes a large commit (401, then Basic; a 0000 probe, then chunks)")
        work = self.base / "by-git"
        (work / "big.bin").write_bytes(random.Random(3).randbytes(100_000))  # incompressible: > postBuffer
        git(self.env, "add", "big.bin", cwd=work)
        make_history(self.env, work, 1, start=100)
        url = self.url if self.args.no_credentials else self.push_url
        buffer = [] if self.args.no_probe else ["-c", "http.postBuffer=65536"]  # git's minimum: 64 KiB
        mark = self.server.line_count()
        pushed = git({**self.env, "GIT_TRACE_PACKET": "1"}, *buffer, "push", "-q", url, "main", cwd=work,
                     check=False)
        check(pushed.returncode == 0, f"git's push failed: {pushed.stderr.decode(errors='replace')[-300:]}"
              + (" (--no-credentials: the URL has no user:password)" if self.args.no_credentials else ""))
        # receive-pack stays protocol v0: refs with capabilities, commands, a pack, report-status.
        # Left out: flushes, and git's internal talk with its HTTP helper (refspecs, echoes).
        shown: set[str] = set()
        for line in packet_lines(pushed.stderr, ("git",)):
            if line in shown or line.endswith(" 0000") or ":refs/" in line or line.startswith("git< 00"):
                continue
            shown.add(line)
            self.trace.note(f"git  {line}")
        check(self.main() == head(self.env, work), "git's push did not move main")
        probes = [line for line in self.server.output().splitlines()[mark:] if "no commands" in line]
        check(probes, "our server saw no 0000 probe before git's large push"
              + (" (--no-probe: http.postBuffer left at 1 MiB)" if self.args.no_probe else ""))
        self.trace.state(f"the server answered git's probe with an empty 200; main is now {self.main()[:7]}")

    def mini_pushes(self) -> None:
        self.trace.banner("4. mini_git fetches that commit, adds one, and pushes it")
        work = self.base / "by-mini"
        if self.args.no_fetch:
            self.trace.note("(--no-fetch: pushing on top of the old main)")
        else:
            fetch(self.mine, "origin", self.client_trace)
            git(self.env, "merge", "-q", "--ff-only", "origin/main", cwd=work)
        make_history(self.env, work, 1, start=200)
        updates = push(self.mine, "origin", [], self.client_trace, url=self.push_url)
        check([u.status for u in updates] == ["ok"],
              f"mini_git's push failed: {' '.join(u.describe().strip() for u in updates)}")
        check(self.main() == head(self.env, work), "mini_git's push did not move main")

    def non_fast_forward(self) -> None:
        self.trace.banner("5. a stale clone pushes a non-fast-forward: refused, then refused by the server")
        stale = Repository.discover(self.base / "by-git")
        make_history(self.env, self.base / "by-git", 1, start=300)
        before = self.main()
        refused = push(stale, "origin", [], self.client_trace, url=self.push_url)
        check(refused[0].status == "rejected", "the client should refuse a non-fast-forward")
        self.trace.note(f"client said: {refused[0].describe().strip()}")
        forced = push(stale, "origin", [], self.client_trace, force=True, url=self.push_url)
        self.trace.note(f"server said: {forced[0].describe().strip()}")
        check(forced[0].status == "remote rejected" and forced[0].reason == "non-fast-forward",
              f"the server accepted a forced non-fast-forward push ({forced[0].describe().strip()}): main "
              f"moved from {before[:7]} to {self.main()[:7]}, losing commits"
              + (" (--server-allows-non-ff)" if self.args.server_allows_non_ff else ""))
        check(self.main() == before, "a refused push moved main")

    def from_backend(self) -> None:
        self.trace.banner("6. mini_git clones from git http-backend (upload-pack traced by GIT_TRACE_PACKET)")
        packets = self.base / "backend-packets.log"
        traced = {} if self.args.no_packet_trace else {"GIT_TRACE_PACKET": str(packets)}
        backend = start_backend(self.bare.parent, {**self.env, **traced})
        try:
            clone(f"{backend.url}/demo.git", str(self.base / "from-backend"), self.client_trace,
                  peer="backend")  # cgi_bridge.py's trace name, for the trace events
        finally:
            backend.stop()
        lines = packet_lines(packets.read_bytes(), ("upload-pack",), limit=10) if packets.exists() else []
        for line in lines:
            self.trace.note(f"http-backend  {line}")
        check(head(self.env, self.base / "from-backend") == self.main(),
              "mini_git's clone from http-backend is not at main")
        check(any("upload-pack< want " in line for line in lines), "http-backend's upload-pack traced no "
              "'want' line: its side of the conversation is not shown"
              + (" (--no-packet-trace)" if self.args.no_packet_trace else ""))

    def checks(self) -> None:
        self.trace.banner("7. checks: git fsck --strict on the server; both clones agree after fetch")
        if self.args.corrupt_server:
            pack = max((self.bare / "objects" / "pack").glob("*.pack"), key=lambda p: p.stat().st_size)
            data = bytearray(pack.read_bytes())
            data[len(data) // 2] ^= 0xFF
            pack.chmod(0o644)
            pack.write_bytes(bytes(data))
            self.trace.note(f"(--corrupt-server: one byte flipped in the middle of {pack.name})")
        fsck = git(self.env, "fsck", "--strict", cwd=self.bare, check=False)
        check(fsck.returncode == 0, "git fsck --strict found damage in the server's repository: "
              + fsck.stderr.decode(errors="replace").strip()[:300])
        git(self.env, "fetch", "-q", cwd=self.base / "by-git")
        check(head(self.env, self.base / "by-git", "origin/main") == self.main(), "git's fetch is behind")
        fetch(self.mine, "origin", self.client_trace)
        check(head(self.env, self.base / "by-mini", "origin/main") == self.main(), "our fetch is behind")
        self.trace.state("all checks passed: fsck clean, both clients agree with the server")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_git.network.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show every pkt-line")
    parser.add_argument("--act", type=int, default=7, choices=range(1, 8), metavar="N",
                        help="stop after act N (1-7)")
    switches = parser.add_argument_group("switches that turn one act's mechanism off (its check must fail)")
    for flag, text in [("--git-protocol-v0", "act 1: real git clones with protocol.version=0"),
                       ("--no-checkout", "act 2: mini_git clones without checking out"),
                       ("--no-credentials", "act 3: real git pushes to a URL without user:password"),
                       ("--no-probe", "act 3: http.postBuffer left at 1 MiB, so git sends no 0000 probe"),
                       ("--no-fetch", "act 4: mini_git pushes without fetching first"),
                       ("--server-allows-non-ff", "act 5: the server accepts forced non-fast-forwards"),
                       ("--no-packet-trace", "act 6: http-backend runs without GIT_TRACE_PACKET"),
                       ("--corrupt-server", "act 7: flip a byte of the server's pack before git fsck")]:
        switches.add_argument(flag, action="store_true", help=text)
    args = parser.parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
