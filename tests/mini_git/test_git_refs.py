"""Refs: loose and packed, symbolic HEAD, and the lock + old-value check that keeps updates atomic."""

from __future__ import annotations

import pytest

from learn_git.errors import GitError, RefConflict
from learn_git.refs import (
    ANY,
    delete_ref,
    list_refs,
    read_head,
    read_ref,
    set_head_symbolic,
    update_ref,
)
from learn_git.repo import Repository

pytestmark = pytest.mark.memory

A, B = "a" * 40, "b" * 40


@pytest.fixture
def git_dir(tmp_path):
    return Repository.init(tmp_path / "r").git_dir


def test_head_is_symbolic_until_detached(git_dir):
    assert read_head(git_dir).ref == "refs/heads/main" and read_head(git_dir).oid is None
    update_ref(git_dir, "HEAD", A)  # through HEAD: moves main
    assert read_ref(git_dir, "refs/heads/main") == A
    update_ref(git_dir, "HEAD", B, no_deref=True)  # detach
    head = read_head(git_dir)
    assert head.detached and head.oid == B and read_ref(git_dir, "refs/heads/main") == A
    set_head_symbolic(git_dir, "refs/heads/main")
    assert read_head(git_dir).oid == A


def test_update_checks_the_old_value(git_dir):
    update_ref(git_dir, "refs/heads/x", A, None)  # None: must not exist yet
    with pytest.raises(RefConflict):
        update_ref(git_dir, "refs/heads/x", B, None)
    with pytest.raises(RefConflict):
        update_ref(git_dir, "refs/heads/x", B, B)
    update_ref(git_dir, "refs/heads/x", B, A)
    update_ref(git_dir, "refs/heads/x", A, ANY)
    assert read_ref(git_dir, "refs/heads/x") == A


def test_a_held_lock_makes_the_update_fail_and_leaves_the_ref(git_dir):
    update_ref(git_dir, "refs/heads/x", A)
    lock = git_dir / "refs/heads/x.lock"
    lock.write_text("someone else\n")
    with pytest.raises(RefConflict, match="another git process"):
        update_ref(git_dir, "refs/heads/x", B)
    assert read_ref(git_dir, "refs/heads/x") == A and lock.read_text() == "someone else\n"


def test_packed_refs_are_read_and_a_loose_ref_wins(git_dir):
    (git_dir / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted \n{A} refs/heads/p\n"
                                         f"{A} refs/tags/t\n^{B}\n")
    assert list_refs(git_dir) == {"refs/heads/p": A, "refs/tags/t": A}
    update_ref(git_dir, "refs/heads/p", B)
    assert read_ref(git_dir, "refs/heads/p") == B
    delete_ref(git_dir, "refs/heads/p")
    assert read_ref(git_dir, "refs/heads/p") is None  # gone from both places
    assert "refs/heads/p" not in (git_dir / "packed-refs").read_text()
    assert read_ref(git_dir, "refs/tags/t") == A


@pytest.mark.parametrize("name", ["refs/heads/../../config", "refs/heads/a..b", "refs/heads/x.lock",
                                  "/etc/passwd", "refs/heads/sp ace", "refs/heads/.hidden"])
def test_ref_names_that_git_refuses_are_refused(git_dir, name):
    with pytest.raises(GitError):
        update_ref(git_dir, name, A)
