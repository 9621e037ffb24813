"""Commands that must stop cleanly: a rebase that would conflict, an aborted merge, a named stash."""

from __future__ import annotations

import pytest

from learn_git.sidebyside import Pair
from tests.conftest import need_binary


@pytest.fixture
def pair(tmp_path):
    need_binary("git", "git")
    p = Pair(tmp_path)
    p.both("init", "-q", "-b", "main")
    p.write("f.txt", "one\ntwo\n")
    p.both("add", "f.txt")
    p.both("commit", "-q", "-m", "base", tick=True)
    return p


def diverge(p: Pair) -> None:
    p.both("switch", "-q", "-c", "topic")
    p.write("f.txt", "one\nTOPIC\n")
    p.both("commit", "-q", "-am", "topic edit", tick=True)
    p.both("switch", "-q", "main")
    p.write("f.txt", "one\nMAIN\n")
    p.both("commit", "-q", "-am", "main edit", tick=True)


def test_a_conflicting_rebase_changes_nothing(pair):
    diverge(pair)
    pair.both("switch", "-q", "topic")
    before = pair.rev("topic")[0]
    mini, _ = pair.both("rebase", "main", tick=True)
    assert mini.code == 1 and b"could not apply" in mini.err
    assert pair.rev("topic")[0] == before
    assert (pair.mini / "f.txt").read_text() == "one\nTOPIC\n"
    assert pair.git_in("mini", "status", "--porcelain").out == b""


def test_merge_abort_restores_the_branch_and_files(pair):
    diverge(pair)
    mini, git = pair.both("merge", "topic", tick=True)
    assert mini.code == git.code == 1
    mini, git = pair.both("merge", "--abort")
    assert mini.code == git.code == 0
    assert (pair.mini / "f.txt").read_text() == "one\nMAIN\n"
    assert not (pair.mini / ".git/MERGE_HEAD").exists()
    assert pair.git_in("mini", "status", "--porcelain").out == b""
    assert pair.rev()[0] == pair.rev()[1]


def test_stash_with_a_message_matches_git(pair):
    pair.write("f.txt", "one\nchanged\n")
    mini, git = pair.both("stash", "push", "-m", "half done", tick=True)
    assert mini.code == git.code == 0
    assert pair.rev("refs/stash")[0] == pair.rev("refs/stash")[1]
    assert pair.git_in("mini", "stash", "list").out == pair.git_in("git", "stash", "list").out
