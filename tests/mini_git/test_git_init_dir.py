"""`init DIR` creates DIR and its missing parents, as git does, and a bad `-C` stops like git's.

Found by the compose stack: `python -m learn_git init --bare -b main /repos/demo.git` in an empty
volume failed with FileNotFoundError (init's DIR and the global -C shared one argparse name), and
the server then served no repository.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.differential


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=60)


def test_init_bare_creates_missing_directories_that_git_accepts(tmp_path):
    git = need_binary("git", "git")
    target = tmp_path / "repos" / "deeper" / "demo.git"
    ours = run(sys.executable, "-m", "learn_git", "init", "--bare", "-b", "main", str(target), cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == f"Initialized empty Git repository in {target}/\n"
    assert run(git, "--git-dir", str(target), "rev-parse", "--is-bare-repository").stdout == "true\n"
    assert run(git, "--git-dir", str(target), "symbolic-ref", "HEAD").stdout == "refs/heads/main\n"
    # and what git itself does with a missing directory, for comparison
    theirs = run(git, "init", "-q", "--bare", "-b", "main", str(tmp_path / "git" / "x" / "demo.git"))
    assert theirs.returncode == 0 and (tmp_path / "git" / "x" / "demo.git" / "HEAD").is_file()


def test_init_with_dash_c_creates_the_directory_inside_it(tmp_path):
    need_binary("git", "git")
    ours = run(sys.executable, "-m", "learn_git", "-C", str(tmp_path), "init", "-q", "work")
    assert ours.returncode == 0, ours.stderr
    assert (tmp_path / "work" / ".git" / "HEAD").is_file()


def test_a_missing_dash_c_directory_stops_as_git_does(tmp_path):
    git = need_binary("git", "git")
    missing = tmp_path / "nowhere"
    ours = run(sys.executable, "-m", "learn_git", "-C", str(missing), "status")
    theirs = run(git, "-C", str(missing), "status")
    assert ours.returncode == theirs.returncode == 128
    assert ours.stderr == theirs.stderr == f"fatal: cannot change to '{missing}': No such file or directory\n"
