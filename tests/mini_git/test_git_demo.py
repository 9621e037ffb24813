"""The demo is a test: it runs as a learner would run it, checks itself, and exits 0."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import need_binary


def test_demo_runs_and_checks_itself():
    need_binary("git", "git")
    result = subprocess.run([sys.executable, "-m", "learn_git.demo", "-v"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    out = result.stdout
    for expected in ("Act 1: objects", "> mini_git blob", "> mini_git tree", "> mini_git commit",
                     "= mini_git refs/heads/main", "< mini_git commit", "CONFLICT (content)",
                     "Revert \"Add dessert\"", "stash@{0}: WIP on main", "[bread]",
                     "git fsck --strict -> exit 0", "all checks passed"):
        assert expected in out, expected
