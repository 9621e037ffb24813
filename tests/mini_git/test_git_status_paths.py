"""``status``'s two paths give the same answer: the fast variant (``status_fast.py``) and the lesson.

Seeded random repositories, each changed a few random ways (edits that keep the
size or not, deletions, files replaced by directories, symlinks, modes, ignore
rules, staged changes, stat data touched without a change, packed refs, nested
repositories) and some damaged (a truncated index, a corrupt HEAD commit, a
required index extension).  For each, ``status --porcelain`` and the long
``status`` are run both ways in-process, and must print the same bytes and exit
with the same code.  The fast path must also really answer (not always hand over
to the plain one): the test counts how often it did.
"""

from __future__ import annotations

import os
import random
import shutil
import zlib
from pathlib import Path

import pytest

from learn_git import status_fast
from learn_git.sidebyside import fixed_env, run_mini

pytestmark = pytest.mark.memory

REPOSITORIES = 40


def build(work: Path, rng: random.Random, env: dict[str, str]) -> list[str]:
    """A repository with one commit of a dozen files in a few directories; their paths."""
    work.mkdir()
    run_mini(work, ["init", "-q"], env)
    paths = []
    for i in range(rng.randint(3, 14)):
        path = "/".join(rng.sample(["src", "lib", "doc", "x", "y z"], rng.randint(0, 2)) + [f"f{i}.txt"])
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(f"file {i}\n" * rng.randint(1, 4))
        paths.append(path)
    if rng.random() < 0.3:
        rules = ["*.log\n", "build/\n", "# only a comment\n", "!keep.log\n*.log\n"]
        (work / ".gitignore").write_text(rng.choice(rules))
    assert run_mini(work, ["add", "."], env).code == 0
    assert run_mini(work, ["commit", "-q", "-m", "one"], env).code == 0
    return paths


def change(work: Path, paths: list[str], rng: random.Random, env: dict[str, str]) -> str:
    """One random change to the repository; its name (for the failure message)."""
    path = rng.choice(paths)
    target = work / path
    kind = rng.choice(["same-size edit", "edit", "delete", "to-dir", "symlink", "chmod", "touch", "untracked",
                       "untracked-dir", "ignored", "staged", "packed-ref", "nested-repo", "new-gitignore",
                       "nothing", "truncated-index", "corrupt-commit", "required-extension"])
    git_dir = work / ".git"
    needs_file = ("same-size edit", "edit", "chmod", "touch", "to-dir", "symlink", "delete")
    if not target.is_file() and kind in needs_file:
        return "nothing (path gone)"
    if kind == "same-size edit":
        data = target.read_bytes()
        target.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    elif kind == "edit":
        target.write_text("changed\n")
    elif kind == "delete":
        target.unlink()
    elif kind == "to-dir":
        target.unlink()
        target.mkdir()
        (target / "inside.txt").write_text("now a directory\n")
    elif kind == "symlink":
        target.unlink()
        target.symlink_to("elsewhere")
    elif kind == "chmod":
        target.chmod(0o755)
    elif kind == "touch":
        st = target.stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    elif kind == "untracked":
        (work / "new").mkdir(exist_ok=True)
        (work / rng.choice(["u.txt", "new/u.txt", "a.log"])).write_text("untracked\n")
    elif kind == "untracked-dir":
        (work / "deep/er/still").mkdir(parents=True, exist_ok=True)
        (work / "deep/er/still/file").write_text("x\n")
    elif kind == "ignored":
        (work / "build").mkdir(exist_ok=True)
        (work / "build/out.log").write_text("log\n")
        (work / "keep.log").write_text("log\n")
    elif kind == "staged":
        target.write_text("staged\n")
        run_mini(work, ["add", path], env)
    elif kind == "packed-ref":
        oid = (git_dir / "refs/heads/main").read_text()
        (git_dir / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted\n{oid.strip()} "
                                             "refs/heads/main\n")
        (git_dir / "refs/heads/main").unlink()
    elif kind == "nested-repo":
        run_mini(work, ["init", "-q", "inner"], env)
        (work / "inner/file").write_text("inner\n")
    elif kind == "new-gitignore":
        (work / ".gitignore").write_text("*.txt\n")
    elif kind == "truncated-index":
        index = git_dir / "index"
        index.write_bytes(index.read_bytes()[:40])
    elif kind == "corrupt-commit":
        oid = run_mini(work, ["rev-parse", "HEAD"], env).text.strip()
        loose = git_dir / "objects" / oid[:2] / oid[2:]
        loose.chmod(0o644)
        loose.write_bytes(zlib.compress(b"commit 5\0bogus"))
    elif kind == "required-extension":
        import hashlib
        index = git_dir / "index"
        body = index.read_bytes()[:-20] + b"link" + (4).to_bytes(4, "big") + b"\0\0\0\0"
        index.write_bytes(body + hashlib.sha1(body).digest())
    return f"{kind} {path}"


def both_paths(work: Path, env: dict[str, str], args: list[str]) -> tuple:
    fast = run_mini(work, ["status", *args], env)      # never writes: run it first
    plain = run_mini(work, ["--plain", "status", *args], env)
    return fast, plain


def test_fast_and_plain_status_agree_on_many_repositories(tmp_path):
    rng = random.Random(20261207)
    answered = 0
    for number in range(REPOSITORIES):
        env = fixed_env(tmp_path / "home", number)
        work = tmp_path / f"r{number}"
        paths = build(work, rng, env)
        done = [change(work, paths, rng, env) for _ in range(rng.randint(0, 3))]
        if status_fast.collect(str(work)) is not None:
            answered += 1
        for args in (["--porcelain"], []):
            fast, plain = both_paths(work, env, args)
            assert (fast.code, fast.out, fast.err) == (plain.code, plain.out, plain.err), (number, done, args)
        shutil.rmtree(work)
    # The shortcuts must do real work, not hand every case over: most of these are covered.
    assert answered >= REPOSITORIES // 3, f"the fast path answered only {answered} of {REPOSITORIES}"


def test_the_fast_path_hands_over_what_it_does_not_cover(tmp_path):
    env = fixed_env(tmp_path / "home")
    work = tmp_path / "r"
    work.mkdir()
    run_mini(work, ["init", "-q"], env)
    assert status_fast.collect(str(work)) is None          # unborn branch
    (work / "a.txt").write_text("a\n")
    run_mini(work, ["add", "a.txt"], env)
    run_mini(work, ["commit", "-q", "-m", "one"], env)
    assert status_fast.collect(str(work)) is not None      # clean: the cache tree is HEAD's tree
    (work / "a.txt").write_text("b\n")
    run_mini(work, ["add", "a.txt"], env)
    assert status_fast.collect(str(work)) is None          # staged: the trees must be compared
