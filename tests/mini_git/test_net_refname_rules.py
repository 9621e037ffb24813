"""What a push may name: the rules ``git check-ref-format`` does not cover (refs/ only, no ``..``)."""

import pytest

from learn_git.network.refname import push_target_problem

pytestmark = pytest.mark.pure


def test_push_targets_must_live_under_refs():
    assert push_target_problem("refs/heads/ok") is None
    assert "refs/" in push_target_problem("heads/main")
    assert "rule 3" in push_target_problem("refs/heads/../../config")

