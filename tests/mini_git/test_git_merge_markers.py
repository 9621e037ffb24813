"""Conflict markers enclose exactly the lines git's enclose (differential, against ``git merge``).

git's default merge level refines each conflict (lines both sides agree on
leave the markers, splitting it) and then joins conflicts that 3 or fewer
unchanged lines keep apart.  ``merge3.merge_lines`` does both; these tests
compare its output with real git's, first through a whole ``merge`` in two
repositories, then on many seeded random edits through ``git merge-tree``.
"""

from __future__ import annotations

import random

import pytest

from learn_git.merge3 import merge_lines
from learn_git.sidebyside import Pair, fixed_env, run_git
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


def lines(*items: str) -> str:
    return "".join(f"{item}\n" for item in items)


BASE = lines("title", "a1", "a2", "a3", "a4", "gap1", "gap2", "gap3", "gap4", "b1", "b2", "c1", "c2", "end")
OURS = lines("title", "OURS a1", "a2", "a3", "OURS a4", "gap1", "gap2", "gap3", "gap4",
             "OURS b1", "s1", "s2", "s3", "s4", "OURS b2", "c1", "OURS c1", "s5", "s6", "OURS c2",
             "end", "tail")
THEIRS = lines("title", "THEIRS a1", "a2", "a3", "THEIRS a4", "gap1", "gap2", "gap3", "gap4",
               "THEIRS b1", "s1", "s2", "s3", "s4", "THEIRS b2", "c1", "THEIRS c1", "s5", "s6", "THEIRS c2",
               "end")


def test_agreeing_lines_split_a_conflict_and_close_conflicts_are_joined():
    result = merge_lines(BASE.encode(), OURS.encode(), THEIRS.encode(), "HEAD", "side")
    assert result.data.decode() == lines(
        "title",
        # a1 and a4: two conflicts 2 lines apart, joined into one (a2, a3 inside)
        "<<<<<<< HEAD", "OURS a1", "a2", "a3", "OURS a4", "=======",
        "THEIRS a1", "a2", "a3", "THEIRS a4", ">>>>>>> side",
        "gap1", "gap2", "gap3", "gap4",  # 4 lines: far enough apart, not joined
        # b1-b2: one conflict whose sides agree on s1-s4 in the middle: split in two ...
        "<<<<<<< HEAD", "OURS b1", "=======", "THEIRS b1", ">>>>>>> side",
        "s1", "s2", "s3", "s4",
        # ... and its second half is 1 line (c1) away from the c conflict (itself refined
        # around s5, s6): all joined back into one
        "<<<<<<< HEAD", "OURS b2", "c1", "OURS c1", "s5", "s6", "OURS c2", "=======",
        "THEIRS b2", "c1", "THEIRS c1", "s5", "s6", "THEIRS c2", ">>>>>>> side",
        "end", "tail")
    assert result.conflicts == 3


def test_a_clean_change_between_two_conflicts_keeps_them_apart():
    # (checked against ``git merge-file -p``, which prints the same)
    base = lines("x", "keep", "y", "k2", "z")
    ours = lines("X1", "keep", "y", "k2", "Z1")
    theirs = lines("X2", "keep", "Y2", "k2", "Z2")  # y -> Y2 only on their side: taken cleanly
    assert merge_lines(base.encode(), ours.encode(), theirs.encode(), "o", "t").data.decode() == lines(
        "<<<<<<< o", "X1", "=======", "X2", ">>>>>>> t", "keep", "Y2", "k2",
        "<<<<<<< o", "Z1", "=======", "Z2", ">>>>>>> t")


def test_conflicted_file_content_equals_gits_after_a_real_merge(tmp_path):
    need_binary("git", "git")
    p = Pair(tmp_path)
    p.both("init", "-q", "-b", "main")
    p.write("story.txt", BASE)
    p.both("add", "story.txt")
    p.both("commit", "-q", "-m", "base", tick=True)
    p.both("switch", "-q", "-c", "side")
    p.write("story.txt", THEIRS)
    p.both("commit", "-q", "-am", "side", tick=True)
    p.both("switch", "-q", "main")
    p.write("story.txt", OURS)
    p.both("commit", "-q", "-am", "ours", tick=True)
    mini, git = p.both("merge", "side", tick=True)
    assert mini.code == git.code == 1
    ours_file, gits_file = (p.mini / "story.txt").read_bytes(), (p.git / "story.txt").read_bytes()
    assert ours_file == gits_file, f"mini_git wrote\n{ours_file.decode()}\ngit wrote\n{gits_file.decode()}"
    assert gits_file.count(b"<<<<<<< HEAD") == 3
    assert p.git_in("mini", "ls-files", "-u").out == p.git_in("git", "ls-files", "-u").out
    assert p.git_in("mini", "diff").out == p.git_in("git", "diff").out  # git's combined diff of the markers
    assert p.git_in("mini", "fsck", "--strict").code == 0


def _mutate(rnd: random.Random, base: list[str], tag: str) -> list[str]:
    # Lines are unique within a file, so Myers (ours) and histogram diff (git's merge) align them alike.
    out = list(base)
    for n in range(rnd.randint(1, 4)):
        i = rnd.randrange(len(out) + 1)
        r = rnd.random()
        if r < 0.4 and i < len(out):
            out[i] = rnd.choice([f"{tag} {i}.{n}\n", f"same {i}\n"])
        elif r < 0.7:
            out.insert(i, rnd.choice([f"{tag} new {i}.{n}\n", f"same new {i}\n"]))
        elif i < len(out):
            del out[i]
    return out if len(set(out)) == len(out) else base + [f"{tag} end\n"]


@pytest.mark.timeout(120)
def test_random_edits_merge_to_the_same_bytes_as_git_merge_tree(tmp_path):
    need_binary("git", "git")
    env = fixed_env(tmp_path)
    git = lambda *args, stdin=None: run_git(tmp_path, list(args), env, stdin).text.strip()  # noqa: E731
    git("init", "-q", "-b", "main")

    def commit(data: bytes, parent: str | None = None) -> str:
        blob = git("hash-object", "-w", "--stdin", stdin=data)
        tree = git("mktree", stdin=f"100644 blob {blob}\tf\n".encode())
        return git("commit-tree", tree, "-m", "x", *(["-p", parent] if parent else []))

    rnd = random.Random(9)
    conflicted = 0
    for case in range(60):
        base = [f"line {i}\n" for i in range(rnd.randint(3, 14))]
        sides = (base, _mutate(rnd, base, "ours"), _mutate(rnd, base, "theirs"))
        texts = ["".join(x).encode() for x in sides]
        root = commit(texts[0])
        git("update-ref", "refs/heads/ours", commit(texts[1], root))
        git("update-ref", "refs/heads/theirs", commit(texts[2], root))
        tree = git("merge-tree", "--write-tree", "ours", "theirs").split("\n")[0]
        theirs_result = run_git(tmp_path, ["cat-file", "-p", f"{tree}:f"], env).out
        ours_result = merge_lines(*texts, "ours", "theirs")
        conflicted += ours_result.conflicts > 0
        assert ours_result.data == theirs_result, f"case {case}: {texts}"
    assert conflicted > 10  # the seed must produce real conflicts, not only clean merges
