"""Ref-name rules, checked against ``git check-ref-format`` itself."""

import subprocess

import pytest

from learn_git.network.refname import check_refname
from tests.conftest import need_binary

pytestmark = pytest.mark.differential

NAMES = [
    "refs/heads/main", "refs/heads/feature/x-1", "refs/tags/v1.0", "refs/heads/a.b", "refs/heads/@x",
    "main", "refs/heads/.hidden", "refs/heads/x.lock", "refs/heads/a..b", "refs/heads/a b",
    "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*", "refs/heads/a[",
    "refs/heads/a\\b", "refs/heads/a@{1}", "@", "refs/heads/", "/refs/heads/x", "refs//heads/x",
    "refs/heads/x.", "refs/heads/tab\there", "refs/heads/ünïcode",
]


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_git_check_ref_format(name):
    need_binary("git", "git")
    git_says = subprocess.run(["git", "check-ref-format", name], capture_output=True).returncode == 0
    assert check_refname(name) == git_says
