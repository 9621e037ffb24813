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
from learn_git.sidebyside import fixed_env, run_git, run_mini
from tests.conftest import need_binary

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


def test_real_git_sees_branches_tags_and_reflogs_we_write(tmp_path):
    need_binary("git", "git")
    env = fixed_env(tmp_path / "home")
    work = tmp_path / "w"
    work.mkdir()
    run_mini(work, ["init", "-q"], env)
    (work / "f").write_text("1\n")
    run_mini(work, ["add", "f"], env)
    run_mini(work, ["commit", "-q", "-m", "one"], env)
    run_mini(work, ["branch", "b"], env)
    run_mini(work, ["tag", "-a", "v1", "-m", "tag"], env)
    assert run_mini(work, ["show-ref"], env).out == run_git(work, ["show-ref"], env).out
    reflog = run_git(work, ["reflog", "show", "main"], env).text
    assert "commit (initial): one" in reflog
    run_git(work, ["pack-refs", "--all"], env)  # now they live in packed-refs only
    assert run_mini(work, ["show-ref"], env).out == run_git(work, ["show-ref"], env).out
    assert run_mini(work, ["cat-file", "-p", "v1^{commit}"], env).out == run_git(
        work, ["cat-file", "-p", "v1^{commit}"], env).out


def test_identity_comes_from_the_users_gitconfig_as_in_git(tmp_path):
    need_binary("git", "git")
    env = {k: v for k, v in fixed_env(tmp_path / "home").items()
           if k not in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")}
    (tmp_path / "home").mkdir()
    (tmp_path / "home/.gitconfig").write_text("[user]\n\tname = Grace Hopper\n\temail = grace@example.org\n")
    ids = []
    for tool in (run_mini, run_git):
        work = tmp_path / tool.__name__
        work.mkdir()
        tool(work, ["init", "-q", "-b", "main"], env)
        (work / "f").write_text("1\n")
        tool(work, ["add", "f"], env)
        assert tool(work, ["commit", "-q", "-m", "one"], env).code == 0
        ids.append(run_git(work, ["rev-parse", "HEAD"], env).text)
    assert ids[0] == ids[1]
    assert "Grace Hopper" in run_git(tmp_path / "run_mini", ["log", "-1", "--format=%an %cn"], env).text
