"""Every check of both mini_git demos can fail: one switch per act turns its mechanism off, and exit is 1.

The normal runs are in tests/test_demos.py.  Here each act runs last (``--act N``)
with the switch that removes what it shows; the demo must exit 1 and say what went
wrong.  A check that passed with its mechanism off would prove nothing.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_demo_failed, need_binary, run_demo

pytestmark = pytest.mark.loopback

LOCAL = [
    (1, "--corrupt-object", "cat-file -p 570fb96614 failed: fatal: object 570fb966"),
    (2, "--no-add", "Committing is not possible because you have unmerged files: soup/tomato.txt"),
    (3, "--soft-reset", "the file of the dropped commit, is still in the work tree after the reset"),
    (4, "--no-pop", "the stashed edit is not back in README.md (--no-pop"),
    (5, "--detach-worktree", "does not see the commit made in the second one on branch bread"),
    (6, "--lose-object", "git fsck --strict found damage: broken link"),
]
NETWORK = [
    (1, "--git-protocol-v0", "real git did not speak protocol v2 (no command=ls-refs"),
    (2, "--no-checkout", "mini_git's work tree and index differ from main: ['D'"),
    (3, "--no-credentials", "git's push failed: fatal: could not read Username"),
    (3, "--no-probe", "our server saw no 0000 probe before git's large push"),
    (4, "--no-fetch", "mini_git's push failed: ! [rejected]        main -> main (fetch first)"),
    (5, "--server-allows-non-ff", "the server accepted a forced non-fast-forward push"),
    (6, "--no-packet-trace", "http-backend's upload-pack traced no 'want' line"),
    (7, "--corrupt-server", "git fsck --strict found damage in the server's repository"),
]


def assert_fails(module: str, act: int, switch: str, cwd, failure: str) -> None:
    need_binary("git", "git")
    result = run_demo(module, "--act", str(act), switch, cwd=cwd, timeout=100)
    assert_demo_failed(result, failure)
    assert "FAILED: " in result.stderr and failure in result.stderr, result.stderr[-3000:]
    assert "all checks passed" not in result.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("act", "switch", "failure"), LOCAL)
def test_a_local_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, failure):
    assert_fails("learn_git.demo", act, switch, tmp_path, failure)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("act", "switch", "failure"), NETWORK)
def test_a_network_act_without_its_mechanism_fails_and_says_why(tmp_path, act, switch, failure):
    assert_fails("learn_git.network.demo", act, switch, tmp_path, failure)


def test_act_n_stops_after_act_n_with_its_checks_passed(tmp_path):
    need_binary("git", "git")
    result = run_demo("learn_git.demo", "--act", "1", cwd=tmp_path, timeout=100)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped after act 1 (--act)" in result.stdout and "Act 2" not in result.stdout
