"""Bad input judged by real git: ``git fsck`` after the refusals, and a damaged pack ``git gc`` wrote."""

from __future__ import annotations

import pytest

from learn_git.sidebyside import run_git, run_mini
from tests.conftest import need_binary
from tests.mini_git.test_git_bad_input import BLOB, one_commit_repository

pytestmark = pytest.mark.differential


@pytest.fixture
def repo(tmp_path):
    return one_commit_repository(tmp_path)


def test_git_fsck_agrees_our_repository_is_sound_after_all_that(repo):
    need_binary("git", "git")
    work, env = repo
    result = run_git(work, ["fsck", "--strict"], env)
    assert result.code == 0, result.err


def test_a_damaged_pack_is_reported(repo):
    need_binary("git", "git")
    work, env = repo
    run_git(work, ["gc", "-q"], env)
    pack = next((work / ".git/objects/pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[40] ^= 0xFF  # inside the first entry's compressed data (or its header)
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    result = run_mini(work, ["log", "--oneline"], env)
    assert result.code == 128 and result.err.startswith(b"fatal: "), result.err
    pack.write_bytes(bytes(data[:100]))  # truncated: the trailer no longer matches the index
    result = run_mini(work, ["cat-file", "-p", BLOB], env)
    assert result.code == 128 and b"does not match its index" in result.err, result.err

