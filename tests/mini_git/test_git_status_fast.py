"""``status``'s shortcuts, each checked against what real git does.

The fast paths must never change an answer: the cache tree ``commit`` leaves in
the index (and that git trusts), the racily-clean rule (stat data is not
trusted for a file changed within the index's own timestamp tick), and the
set-based untracked scan (tracked files replaced by directories and the other
way round, ignored and nested directories).  ``status`` here is the default one,
``status_fast.py`` (falling back to ``commands/status.py``); ``test_git_status_paths.py``
compares it with the plain one.
"""

from __future__ import annotations

import os
import shutil

import pytest

from learn_git.index import entry_from_stat, read_index, read_index_and_tree, write_index
from learn_git.sidebyside import Pair
from tests.conftest import need_binary

pytestmark = pytest.mark.differential

HOUR_NS = 3600 * 1_000_000_000


@pytest.fixture
def pair(tmp_path):
    need_binary("git", "git")
    p = Pair(tmp_path)
    p.both("init", "-q", "-b", "main")
    return p


def backdate(p: Pair, *paths: str) -> None:
    """Move files an hour into the past, so that the next index written is clearly newer (not racy)."""
    for top in (p.mini, p.git):
        for path in paths:
            st = os.lstat(top / path)
            os.utime(top / path, ns=(st.st_atime_ns - HOUR_NS, st.st_mtime_ns - HOUR_NS))


def same_status(p: Pair) -> str:
    mini, git = p.both("status", "--porcelain")
    real = p.git_in("mini", "status", "--porcelain")  # real git reading mini_git's index
    assert mini.text == git.text == real.text, (mini.text, git.text, real.text)
    return mini.text


def test_commit_records_its_tree_in_the_index_and_git_trusts_it(pair):
    pair.write("a.txt", "a\n")
    pair.write("dir/sub/b.txt", "b\n")
    backdate(pair, "a.txt", "dir/sub/b.txt")
    pair.both("add", ".")
    pair.both("commit", "-q", "-m", "one")
    entries, tree = read_index_and_tree(pair.mini / ".git/index")
    head_tree = pair.git_in("mini", "rev-parse", "HEAD^{tree}").text.strip()
    assert tree == head_tree and len(entries) == 2
    assert pair.git_in("mini", "write-tree").text.strip() == head_tree  # git accepts the root-only record
    assert same_status(pair) == ""
    # staging anything drops the record (mini_git) or marks it invalid (git): never a stale tree
    pair.write("a.txt", "changed\n")
    pair.both("add", "a.txt")
    assert read_index_and_tree(pair.mini / ".git/index")[1] is None
    assert same_status(pair) == "M  a.txt\n"
    pair.git_in("mini", "commit", "-q", "-m", "by git")  # git writes its own TREE (with subtrees)
    pair.git_in("git", "commit", "-q", "-m", "by git")
    assert read_index_and_tree(pair.mini / ".git/index")[1] == pair.git_in("mini", "rev-parse",
                                                                           "HEAD^{tree}").text.strip()
    pair.write("dir/sub/b.txt", "b2\n")
    pair.git_in("mini", "add", "dir/sub/b.txt")  # git marks the top record -1: not trusted by us
    pair.git_in("git", "add", "dir/sub/b.txt")
    assert read_index_and_tree(pair.mini / ".git/index")[1] is None
    assert same_status(pair) == "M  dir/sub/b.txt\n"
    assert pair.git_in("mini", "fsck", "--strict").code == 0


def test_commit_leaves_a_racily_clean_index_untouched(pair):
    pair.write("f.txt", "one\n")
    pair.both("add", "f.txt")
    index = pair.mini / ".git/index"
    entry_mtime = read_index(index)[0].mtime_s * 1_000_000_000 + read_index(index)[0].mtime_ns
    os.utime(index, ns=(entry_mtime, entry_mtime))  # staged within the index's own tick: racy
    before = index.read_bytes()
    pair.both("commit", "-q", "-m", "one")
    # rewriting the index would make the racy entry look trustworthy, so commit leaves it alone
    assert index.read_bytes() == before and os.stat(index).st_mtime_ns == entry_mtime


def test_racily_clean_file_changed_in_the_same_tick_shows_as_modified(pair):
    pair.write("f.txt", "aaa\n")
    pair.both("add", "f.txt")
    pair.both("commit", "-q", "-m", "one")
    for top in (pair.mini, pair.git):
        index = top / ".git/index"
        entries, _ = read_index_and_tree(index)
        (top / "f.txt").write_text("bbb\n")  # same size
        # The index now holds the *new* stat data with the *old* blob id -- what an edit within the
        # index's own timestamp tick leaves behind -- and the index is no newer than the file.
        entries[0] = entry_from_stat("f.txt", entries[0].oid, os.lstat(top / "f.txt"))
        os.unlink(index)
        write_index(index, entries)
        mtime = os.lstat(top / "f.txt").st_mtime_ns
        os.utime(index, ns=(mtime, mtime))
    assert same_status(pair) == " M f.txt\n"


def test_trusted_stat_data_is_not_rehashed(pair):
    """The other side of the rule: an index clearly newer than the file is believed (git's trade-off)."""
    pair.write("f.txt", "aaa\n")
    pair.both("add", "f.txt")
    index = pair.mini / ".git/index"
    entries = read_index(index)
    (pair.mini / "f.txt").write_text("bbb\n")
    entries[0] = entry_from_stat("f.txt", entries[0].oid, os.lstat(pair.mini / "f.txt"))
    os.unlink(index)
    write_index(index, entries)
    later = os.lstat(pair.mini / "f.txt").st_mtime_ns + HOUR_NS
    os.utime(index, ns=(later, later))
    mini, _ = pair.both("status", "--porcelain")
    assert mini.text == "A  f.txt\n"  # not "AM": the stat data says untouched, and is trusted


def test_untracked_scan_agrees_with_git_on_replaced_and_ignored_paths(pair):
    pair.write(".gitignore", "*.log\nignored_dir/\n")
    pair.write("dir_then_file/a.txt", "a\n")
    pair.write("keep/tracked.txt", "t\n")
    pair.both("add", ".")
    pair.both("commit", "-q", "-m", "one")
    for top in (pair.mini, pair.git):
        shutil.rmtree(top / "dir_then_file")
    pair.write("dir_then_file", "now a file\n")
    pair.write("keep/new.txt", "untracked beside a tracked file\n")
    pair.write("keep/only.log", "ignored\n")
    pair.write("fresh/deeper/x.txt", "a whole untracked directory\n")
    pair.write("logs_only/a.log", "a directory of ignored files is not shown\n")
    pair.write("ignored_dir/y.txt", "ignored with its directory\n")
    pair.write("empty_parent/empty_child/.keep.log", "ignored\n")
    assert same_status(pair) == " D dir_then_file/a.txt\n?? dir_then_file\n?? fresh/\n?? keep/new.txt\n"


def test_tracked_file_replaced_by_a_directory_shows_the_directory_as_untracked(pair):
    """git 2.39 prints only " D f" here (it lists ``f/inside.txt`` with ``-uall``); mini_git has
    always shown the new directory too, and the set-based scan keeps that answer."""
    pair.write("f", "x\n")
    pair.both("add", "f")
    pair.both("commit", "-q", "-m", "one")
    pair.remove("f")
    pair.write("f/inside.txt", "now a directory\n")
    mini, _ = pair.both("status", "--porcelain")
    assert mini.text == " D f\n?? f/\n"
    assert pair.git_in("mini", "status", "--porcelain", "-uall").text == " D f\n?? f/inside.txt\n"
