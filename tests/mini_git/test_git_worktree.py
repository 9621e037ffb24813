"""Linked worktrees: mini_git's layout is git's, so real git lists, reads and removes them too."""

from __future__ import annotations

import pytest

from learn_git.sidebyside import fixed_env, run_git, run_mini
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


def make_repo(tmp_path):
    need_binary("git", "git")
    env = fixed_env(tmp_path / "home")
    main = tmp_path / "main"
    main.mkdir()
    run_mini(main, ["init", "-q"], env)
    (main / "shared.txt").write_text("shared\n")
    run_mini(main, ["add", "shared.txt"], env)
    run_mini(main, ["commit", "-q", "-m", "base"], env)
    return main, env


def test_worktree_add_makes_a_second_checkout_git_understands(tmp_path):
    main, env = make_repo(tmp_path)
    second = tmp_path / "second"
    assert run_mini(main, ["worktree", "add", "-b", "feature", str(second)], env).code == 0
    assert (second / ".git").read_text().startswith("gitdir: ")
    assert (second / "shared.txt").read_text() == "shared\n"
    assert run_mini(main, ["worktree", "list"], env).out == run_git(main, ["worktree", "list"], env).out
    assert run_git(second, ["status", "--porcelain"], env).out == b""
    assert run_git(second, ["rev-parse", "--abbrev-ref", "HEAD"], env).text.strip() == "feature"
    # commit in the second worktree; the main one sees the branch move (shared refs and objects)
    (second / "only-here.txt").write_text("feature work\n")
    run_mini(second, ["add", "only-here.txt"], env)
    assert run_mini(second, ["commit", "-q", "-m", "feature work"], env).code == 0
    assert run_git(main, ["log", "--oneline", "feature"], env).out == run_mini(main, ["log", "--oneline",
                                                                                      "feature"], env).out
    assert run_mini(main, ["status", "--porcelain"], env).out == b""
    assert run_git(main, ["fsck", "--strict"], env).code == 0
    # the branch is busy in the other worktree
    assert run_mini(main, ["switch", "feature"], env).code == 128
    assert run_mini(main, ["branch", "-D", "feature"], env).code == 128
    assert run_mini(main, ["branch"], env).out == run_git(main, ["branch"], env).out


def test_worktree_remove_refuses_local_changes_then_cleans_up(tmp_path):
    main, env = make_repo(tmp_path)
    second = tmp_path / "wt"
    run_mini(main, ["worktree", "add", str(second)], env)
    (second / "shared.txt").write_text("edited\n")
    assert run_mini(main, ["worktree", "remove", str(second)], env).code == 128
    assert second.exists()
    assert run_mini(main, ["worktree", "remove", "--force", str(second)], env).code == 0
    assert not second.exists() and not (main / ".git/worktrees").exists()
    assert run_git(main, ["worktree", "list"], env).text.count("\n") == 1


def test_git_made_worktree_is_usable_by_mini_git(tmp_path):
    main, env = make_repo(tmp_path)
    other = tmp_path / "by-git"
    run_git(main, ["worktree", "add", "-q", "-b", "gitbranch", str(other)], env)
    (other / "shared.txt").write_text("changed by hand\n")
    status = ["status", "--porcelain"]
    assert run_mini(other, status, env).out == run_git(other, status, env).out
    assert run_mini(main, ["worktree", "list"], env).out == run_git(main, ["worktree", "list"], env).out


def test_a_relative_worktree_path_is_recorded_as_git_records_it(tmp_path):
    main, env = make_repo(tmp_path)
    assert run_mini(main, ["worktree", "add", "../rel"], env).code == 0  # "..": normalised, not kept
    assert (tmp_path / "rel" / "shared.txt").read_text() == "shared\n"
    assert run_mini(main, ["worktree", "list"], env).out == run_git(main, ["worktree", "list"], env).out
    assert str(tmp_path / "rel") in run_git(main, ["worktree", "list"], env).text
    assert run_git(main, ["worktree", "prune", "--dry-run", "-v"], env).out == b""  # git finds it
    assert run_mini(main, ["worktree", "remove", "../rel"], env).code == 0
    assert not (tmp_path / "rel").exists()
