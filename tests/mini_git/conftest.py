"""Fixtures of the mini_git tests that run real git."""

from __future__ import annotations

import pytest

from learn_git.network.smart_http_peers import git_env
from tests.conftest import need_binary


@pytest.fixture
def env(tmp_path):
    """An environment for real git with its own empty HOME (no user's config leaks in)."""
    need_binary("git", "git")
    return git_env(tmp_path / "home")
