"""Refs and identity as real git reads them: branches, tags, reflogs, packed refs, ``~/.gitconfig``."""

from __future__ import annotations

import pytest

from learn_git.sidebyside import fixed_env, run_git, run_mini
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


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

