"""The server's fast tree walk (``walk_fast.py``) gives the lesson's object list, in the same order.

Differential: on a history real git made (files, an executable, a symlink, a submodule
entry, deleted and re-added directories), ``objects_to_send`` with ``walk_fast.tree_objects``
must return exactly what it returns with ``walk.tree_objects``, and both must match
``git rev-list --objects``.  Trees the fast reader does not take (a zero-padded mode, a
bad name, a truncated body) must go through the lesson's parser: same answer, same error.
"""

import os

import pytest

from learn_git.errors import CorruptObject
from learn_git.network import walk_fast
from learn_git.network.smart_http_peers import git, make_history
from learn_git.network.walk import objects_to_send, tree_objects
from learn_git.objects import parse_tree
from learn_git.odb import ObjectStore

pytestmark = pytest.mark.differential


@pytest.fixture
def history(env, tmp_path):
    """20 commits of small edits, then an executable, a symlink and a submodule entry."""
    work = tmp_path / "work"
    make_history(env, work, 20, files_per_commit=3)
    script = work / "dir1" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.symlink("dir1/run.sh", work / "link")
    git(env, "add", "-A", cwd=work)
    git(env, "update-index", "--add", "--cacheinfo", "160000," + "ab" * 20 + ",vendor/lib", cwd=work)
    git(env, "commit", "-q", "-m", "script, link, submodule", cwd=work)
    git(env, "rm", "-q", "-r", "dir2", cwd=work)
    git(env, "commit", "-q", "-m", "no dir2", cwd=work)
    make_history(env, work, 5, start=20, files_per_commit=2)  # dir2 comes back
    return work


def rev(env, work, name):
    return git(env, "rev-parse", name, cwd=work).stdout.decode().strip()


@pytest.mark.parametrize("haves", [[], ["HEAD~3"], ["HEAD~10", "HEAD~20"]])
def test_both_walks_send_the_same_objects_in_the_same_order(env, history, haves):
    odb = ObjectStore(history / ".git")
    wants, have_ids = [rev(env, history, "HEAD")], [rev(env, history, h) for h in haves]
    plain = objects_to_send(odb, wants, have_ids, tree_objects)
    walk_fast.LINKS.clear()
    fast = objects_to_send(odb, wants, have_ids, walk_fast.tree_objects)
    assert fast == plain
    assert objects_to_send(odb, wants, have_ids, walk_fast.tree_objects) == plain  # trees kept
    if not haves:  # a clone: exactly git's set (git rev-list skips the submodule commit too)
        theirs = git(env, "rev-list", "--objects", "HEAD", cwd=history).stdout.decode().splitlines()
        assert set(fast) == {line.split()[0] for line in theirs}


def entry(mode: bytes, name: bytes, oid: bytes = b"\x11" * 20) -> bytes:
    return mode + b" " + name + b"\0" + oid


@pytest.mark.parametrize("body", [
    entry(b"040000", b"padded") + entry(b"100644", b"file"),    # a mode git would not write
    entry(b"0100644", b"zero") + entry(b"40000", b"dir"),        # normalised by the lesson
    entry(b"40000", b"a b") + entry(b"160000", b"sub") + entry(b"120000", b"link"),
    entry(b"100644", b"f", b" ..\0" + b"\x11" * 16) + entry(b"40000", b"d"),  # an id that looks like a name
    entry(b"100644", b"x 40000 y") + entry(b"40000", b".hidden"),
    b"",
])
def test_links_read_trees_as_the_lesson_does(body):
    entries = [e for e in parse_tree(body) if e.mode != "160000"]
    expected = [e.oid for e in entries if e.is_tree], [e.oid for e in entries if not e.is_tree]
    assert walk_fast.links(body) == expected


@pytest.mark.parametrize("body", [
    entry(b"100644", b"..") + entry(b"100644", b"file"),
    entry(b"100644", b"a/b"),
    entry(b"100644", b"file")[:-3],                             # truncated id
    entry(b"100644", b"file") + b"junk",
    entry(b"999999", b"bad-mode"),
    entry(b"100664", b"group-writable"),                         # old git's mode: refused

    b" \0" + b"\x11" * 20,                                       # no mode, no name
])
def test_a_damaged_tree_fails_as_in_the_lesson(body):
    with pytest.raises(CorruptObject):
        parse_tree(body)
    with pytest.raises(CorruptObject):
        walk_fast.links(body)
