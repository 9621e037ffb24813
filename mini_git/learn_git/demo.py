"""The mini_git demo: ``python -m learn_git.demo [-v]``.

Reading order: read this last; it drives everything else.  Six acts, each
checked, so the demo is also a test:

1. **Objects.**  ``init``, two files, ``add`` + ``commit``: which blobs, trees and
   commit were written, and each one printed back with ``cat-file``.
2. **Branch and merge.**  A branch, diverging edits to the same line, a merge
   that stops with conflict markers, resolved with ``add`` + ``commit``.
3. **Reset and revert.**  ``reset --hard`` moves the branch back; ``revert``
   adds a commit that undoes an old one.
4. **Stash.**  Local edits put aside as two commits, then popped back.
5. **Worktree.**  A second work tree sharing the same objects and refs.
6. **Real git reads it all.**  ``git fsck --strict``, ``git log`` and ``git status``.

``--act N`` stops after act N.  Each act has a switch that turns off what it
shows, so that its check fails (exit 1, saying what went wrong):
``--corrupt-object`` (act 1: a stored blob's bytes no longer match its id),
``--no-add`` (act 2: the conflict is never marked resolved), ``--soft-reset``
(act 3: ``reset --soft`` leaves the files), ``--no-pop`` (act 4: the stash stays
put), ``--detach-worktree`` (act 5: the second worktree gets no branch) and
``--lose-object`` (act 6: a blob the history needs is deleted before ``git fsck``).

Trace marks: ``>`` an object or file mini_git wrote, ``<`` an object it read
back, ``=`` a ref or HEAD that changed.  Every command runs with fixed
identities and dates, so the ids printed are the same on every machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zlib
from pathlib import Path

from wirelab_common.errors import check, require_binary, run_main
from wirelab_common.wiretrace import Trace, shorten

from .objects import hash_object, parse_commit, parse_tree
from .refs import list_refs, read_raw
from .repo import Repository
from .sidebyside import fixed_env, run_git, run_mini

# The other end of a ">" or "<" line in the structured trace events (``peer``): the object
# database, .git/objects, which traces nothing itself; the object id is the event's ``cid``.
ODB = "odb"


class Narrator:
    """Runs mini_git commands and traces the objects and refs each one changed."""

    def __init__(self, work: Path, trace: Trace) -> None:
        self.work, self.trace, self.tick = work, trace, 0
        self.env = fixed_env(work.parent / "home")

    def _state(self) -> tuple[set[str], dict[str, str]]:
        git_dir = self.work / ".git"
        if not git_dir.exists():
            return set(), {}
        repo = Repository(git_dir, self.work)
        refs = dict(list_refs(git_dir))
        refs["HEAD"] = read_raw(git_dir, "HEAD") or ""
        return set(repo.odb.iter_loose()), refs

    def _written_order(self, oids: set[str]) -> list[str]:
        repo = Repository(self.work / ".git", self.work)
        return sorted(oids, key=lambda oid: repo.odb.loose_path(oid).stat().st_mtime_ns)

    def git(self, *args: str, cwd: Path | None = None, expect: int = 0) -> str:
        """``python -m learn_git <args>`` (in-process), tracing what it changed."""
        self.tick += 1
        self.env = fixed_env(self.work.parent / "home", self.tick)
        objects, refs = self._state()
        self.trace.note("$ mini_git " + " ".join(args))
        result = run_mini(cwd or self.work, list(args), self.env)
        check(result.code == expect, f"'{' '.join(args)}' exited {result.code}: {result.err.decode()}")
        new_objects, new_refs = self._state()
        repo = Repository.discover(self.work) if (self.work / ".git").exists() else None
        for oid in self._written_order(new_objects - objects):
            kind, body = repo.odb.read(oid)
            self.trace.sent(f"{kind:<6} {oid[:12]}  {describe(kind, body)}", body_lines(kind, body),
                            peer=ODB, cid=oid)
        for name in sorted(new_refs.keys() | refs.keys()):
            if new_refs.get(name) != refs.get(name):
                old, new = refs.get(name) or "(none)", new_refs.get(name) or "(deleted)"
                self.trace.state(f"{name}: {short(old)} -> {short(new)}")
        for line in (result.out + result.err).decode("utf-8", "replace").splitlines()[:12]:
            self.trace.note(f"  {line}")
        return result.text

    def show(self, spec: str, always: bool = False) -> tuple[str, bytes]:
        """``cat-file -p``: read one object back, and check real git prints it the same way.

        ``always``: print the content even without ``-v`` (act 1 is about what objects hold).
        """
        repo = Repository.discover(self.work)
        oid = run_mini(self.work, ["rev-parse", spec], self.env).text.strip()
        self.trace.note(f"$ mini_git cat-file -p {spec}")
        result = run_mini(self.work, ["cat-file", "-p", spec], self.env)
        check(result.code == 0, f"mini_git cat-file -p {spec} failed: {result.err.decode().strip()}")
        printed = result.out
        check(printed == run_git(self.work, ["cat-file", "-p", spec], self.env).out,
              f"cat-file -p {spec} prints what git prints")
        kind, body = repo.odb.read(oid)
        lines = printed.decode("utf-8", "replace").splitlines()
        self.trace.received(f"{kind:<6} {oid[:12]}  ({spec})", lines, peer=ODB, cid=oid)
        if always and not self.trace.verbose:
            for line in lines:
                self.trace.note(f"  | {line}")
        return kind, body


def short(value: str) -> str:
    return value if value.startswith("ref:") else value[:12]


def describe(kind: str, body: bytes) -> str:
    if kind == "blob":
        return shorten(body, 40)
    if kind == "tree":
        names = (e.name.decode("utf-8", "replace") + ("/" if e.is_tree else "") for e in parse_tree(body))
        return ", ".join(names)
    if kind == "commit":
        c = parse_commit(body)
        return f"{c.message.splitlines()[0] if c.message else ''!r} ({len(c.parents)} parent(s))"
    return shorten(body.split(b"\n\n", 1)[-1], 40)


def body_lines(kind: str, body: bytes) -> list[str]:
    if kind == "tree":
        return [f"{e.mode:0>6} {e.oid[:12]} {e.name.decode('utf-8', 'replace')}" for e in parse_tree(body)]
    return body.decode("utf-8", "replace").splitlines()


def demo(args: argparse.Namespace) -> None:
    git_bin = require_binary("git", "install git (Debian: apt-get install git)")
    trace = Trace("mini_git", verbose=args.verbose)
    root = Path(tempfile.mkdtemp(prefix="mini_git_demo_"))
    try:
        work = root / "project"
        work.mkdir()
        n = Narrator(work, trace)
        acts = [lambda: act_objects(n, work, args.corrupt_object), lambda: act_merge(n, work, args.no_add),
                lambda: act_reset_revert(n, work, args.soft_reset), lambda: act_stash(n, work, args.no_pop),
                lambda: act_worktree(n, work, root, args.detach_worktree),
                lambda: act_real_git(n, work, git_bin, trace, args.lose_object)]
        for act in acts[:args.act]:
            act()
        if args.act < len(acts):
            trace.note(f"stopped after act {args.act} (--act)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def act_objects(n: Narrator, work: Path, corrupt: bool = False) -> None:
    n.trace.banner("Act 1: objects -- every file a blob, every directory a tree, a commit on top")
    n.git("init", "-q")
    (work / "README.md").write_text("# Recipes\n")
    (work / "soup").mkdir()
    (work / "soup" / "tomato.txt").write_text("tomatoes\nwater\nsalt\n")
    n.git("add", ".")
    n.git("commit", "-q", "-m", "First recipes")
    _, commit = n.show("HEAD", always=True)
    n.show("HEAD^{tree}", always=True)
    tree = parse_commit(commit).tree
    check(len(tree) == 40, "the commit names a tree")
    blob = run_mini(work, ["hash-object", "soup/tomato.txt"], n.env).text.strip()
    n.trace.note(f"$ mini_git hash-object soup/tomato.txt -> {blob[:12]}: the id is the content's SHA-1")
    if corrupt:  # --corrupt-object: other bytes stored under the blob's id, as a damaged disk would
        loose = work / ".git" / "objects" / blob[:2] / blob[2:]
        loose.chmod(0o644)
        loose.write_bytes(zlib.compress(b"blob 9\0tampered\n"))
        n.trace.note(f"(--corrupt-object: {loose.name[:10]}... now holds 'tampered', not the file's bytes)")
    kind, body = n.show(blob[:10], always=True)
    check(body == b"tomatoes\nwater\nsalt\n", "the blob holds the file's bytes")


def act_merge(n: Narrator, work: Path, no_add: bool = False) -> None:
    n.trace.banner("Act 2: a branch, a conflicting merge, resolved with add + commit")
    n.git("switch", "-q", "-c", "spicy")
    (work / "soup" / "tomato.txt").write_text("tomatoes\nwater\nchili\n")
    n.git("commit", "-q", "-am", "Spicy soup")
    n.git("switch", "-q", "main")
    (work / "soup" / "tomato.txt").write_text("tomatoes\nwater\nsea salt\n")
    n.git("commit", "-q", "-am", "Better salt")
    n.git("merge", "spicy", expect=1)
    text = (work / "soup" / "tomato.txt").read_text()
    check("<<<<<<< HEAD\nsea salt\n=======\nchili\n>>>>>>> spicy\n" in text,
          "conflict markers as git writes them")
    n.trace.note("the file now holds both sides between conflict markers; the index holds stages 1, 2, 3:")
    for line in text.splitlines():
        n.trace.note(f"  soup/tomato.txt | {line}")
    check(n.git("status", "--porcelain") == "UU soup/tomato.txt\n", "status shows the conflict")
    (work / "soup" / "tomato.txt").write_text("tomatoes\nwater\nsea salt\nchili\n")
    if no_add:
        n.trace.note("(--no-add: the resolved file is not added, so the index keeps stages 1, 2, 3)")
    else:
        n.git("add", "soup/tomato.txt")
    n.git("commit", "-q", "-m", "Merge branch 'spicy'")
    _, merge = n.show("HEAD")
    check(len(parse_commit(merge).parents) == 2, "the merge commit has two parents")


def act_reset_revert(n: Narrator, work: Path, soft: bool = False) -> None:
    n.trace.banner("Act 3: reset moves a branch; revert adds a commit that undoes one")
    (work / "dessert.txt").write_text("ice cream\n")
    n.git("add", "dessert.txt")
    n.git("commit", "-q", "-m", "Add dessert")
    (work / "README.md").write_text("# Recipes\n\nSoup first.\n")
    n.git("commit", "-q", "-am", "Explain the order")
    (work / "notes.txt").write_text("a mistake\n")
    n.git("add", "notes.txt")
    n.git("commit", "-q", "-m", "Oops")
    n.git("reset", "-q", "--soft" if soft else "--hard", "HEAD~1")
    check(not (work / "notes.txt").exists(),
          "notes.txt, the file of the dropped commit, is still in the work tree after the reset"
          + (" (--soft-reset: only the branch moved)" if soft else ""))
    n.git("revert", "HEAD~1")
    log = n.git("log", "--oneline", "-n", "1")
    check(log.strip().endswith('Revert "Add dessert"'), "revert made a new commit on top")
    check(not (work / "dessert.txt").exists() and "Soup first" in (work / "README.md").read_text(),
          "the reverted commit's file is gone, the later commit's change stays")


def act_stash(n: Narrator, work: Path, no_pop: bool = False) -> None:
    n.trace.banner("Act 4: stash -- local edits saved as two commits, then popped back")
    committed = (work / "README.md").read_text()
    (work / "README.md").write_text(committed + "work in progress\n")
    n.git("stash", "push")
    check((work / "README.md").read_text() == committed, "the work tree is clean after stash push")
    check(n.git("stash", "list").startswith("stash@{0}: WIP on main"), "stash list shows the entry")
    if not no_pop:
        n.git("stash", "pop")
    check("work in progress" in (work / "README.md").read_text(), "the stashed edit is not back in README.md"
          + (" (--no-pop: it is still in refs/stash)" if no_pop else ""))
    n.git("commit", "-q", "-am", "Note the work in progress")


def act_worktree(n: Narrator, work: Path, root: Path, detach: bool = False) -> None:
    n.trace.banner("Act 5: a second worktree -- same objects and refs, its own HEAD and index")
    second = root / "project-bread"
    n.git("worktree", "add", *(["--detach"] if detach else ["-b", "bread"]), str(second))
    (second / "bread.txt").write_text("flour\nwater\nyeast\n")
    n.git("add", "bread.txt", cwd=second)
    n.git("commit", "-q", "-m", "Bread", cwd=second)
    n.git("worktree", "list")
    shared = run_mini(work, ["log", "--oneline", "bread"], n.env)
    check(shared.code == 0 and "Bread" in shared.text,
          f"the main worktree does not see the commit made in the second one on branch bread: "
          f"{shared.err.decode().strip()}"
          + (" (--detach-worktree: no branch was shared)" if detach else ""))


def act_real_git(n: Narrator, work: Path, git_bin: str, trace: Trace, lose: bool = False) -> None:
    trace.banner("Act 6: real git reads everything mini_git wrote")
    if lose:  # --lose-object: the first commit's blob of soup/tomato.txt disappears
        blob = hash_object("blob", b"tomatoes\nwater\nsalt\n")
        (work / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
        trace.note(f"(--lose-object: deleted blob {blob[:12]}, which the first commit needs)")
    fsck = run_git(work, ["fsck", "--strict"], n.env)
    trace.note(f"$ {git_bin} fsck --strict -> exit {fsck.code} {fsck.err.decode().strip()}")
    check(fsck.code == 0 and b"error" not in fsck.err,
          f"git fsck --strict found damage: {fsck.out.decode().strip()} {fsck.err.decode().strip()}")
    for args in (["log", "--oneline"], ["status", "--porcelain"], ["worktree", "list"]):
        ours, theirs = run_mini(work, args, n.env), run_git(work, args, n.env)
        trace.note(f"$ git {' '.join(args)}: {'same as mini_git' if ours.out == theirs.out else 'DIFFERENT'}")
        check(ours.out == theirs.out, f"git {' '.join(args)} agrees with mini_git")
    trace.note("all checks passed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_git.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print each object's content")
    parser.add_argument("--act", type=int, default=6, choices=range(1, 7), metavar="N",
                        help="stop after act N (1-6)")
    switches = parser.add_argument_group("switches that turn one act's mechanism off (its check must fail)")
    switches.add_argument("--corrupt-object", action="store_true",
                          help="act 1: store other bytes under a blob's id")
    switches.add_argument("--no-add", action="store_true", help="act 2: never add the resolved file")
    switches.add_argument("--soft-reset", action="store_true", help="act 3: reset --soft instead of --hard")
    switches.add_argument("--no-pop", action="store_true", help="act 4: leave the stash where it is")
    switches.add_argument("--detach-worktree", action="store_true",
                          help="act 5: the second worktree gets no branch (--detach)")
    switches.add_argument("--lose-object", action="store_true",
                          help="act 6: delete a blob the history needs before git fsck")
    run_main(lambda: demo(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
