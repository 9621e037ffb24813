"""Commands that must stop cleanly: a conflicting rebase, an aborted merge, a named stash, and
conflicted reverts and merges finished with `add` + `commit` (same commits as git)."""

from __future__ import annotations

import pytest

from learn_git.sidebyside import Pair
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


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


def test_a_conflicted_revert_is_finished_with_add_and_commit_like_git(pair):
    pair.write("f.txt", "one\nTWO\n")
    pair.both("commit", "-q", "-am", "shout", tick=True)
    pair.write("f.txt", "one\nTWO!\n")
    pair.both("commit", "-q", "-am", "shout louder", tick=True)
    mini, git = pair.both("revert", "HEAD~1", tick=True)  # undoing "shout" clashes with "louder"
    assert mini.code == git.code == 1
    assert b"CONFLICT (content): Merge conflict in f.txt" in mini.out
    assert (pair.mini / "f.txt").read_bytes() == (pair.git / "f.txt").read_bytes()
    assert pair.git_in("mini", "status", "--porcelain").out == b"UU f.txt\n"
    pair.write("f.txt", "one\ntwo!\n")
    pair.both("add", "f.txt")
    mini, git = pair.both("commit", "-q", tick=True)  # the message comes from MERGE_MSG, comments stripped
    assert mini.code == git.code == 0
    assert pair.rev()[0] == pair.rev()[1]
    assert not (pair.mini / ".git/REVERT_HEAD").exists()
    assert pair.git_in("mini", "fsck", "--strict").code == 0


def test_a_conflicted_merge_committed_without_a_message_matches_git(pair):
    diverge(pair)
    mini, git = pair.both("merge", "topic", tick=True)
    assert mini.code == git.code == 1
    pair.write("f.txt", "one\nBOTH\n")
    pair.both("add", "f.txt")
    # the message is MERGE_MSG with "# Conflicts:" stripped, as git does when its editor runs
    mini, git = pair.both("commit", "-q", tick=True)
    assert mini.code == git.code == 0
    assert pair.rev()[0] == pair.rev()[1]


def test_an_untracked_file_in_the_way_stops_switch_and_merge_with_gits_words(pair):
    pair.both("switch", "-q", "-c", "topic")
    pair.write("new.txt", "tracked on topic\n")
    pair.both("add", "new.txt")
    pair.both("commit", "-q", "-m", "add new.txt", tick=True)
    pair.both("switch", "-q", "main")
    pair.write("new.txt", "untracked here\n")
    for args in (["switch", "topic"], ["merge", "topic"]):
        mini, git = pair.both(*args)
        assert mini.code == git.code != 0
        assert (mini.out, mini.err) == (git.out, git.err), args
    assert (pair.mini / "new.txt").read_text() == "untracked here\n"
    assert pair.rev("main")[0] == pair.rev("main")[1]
