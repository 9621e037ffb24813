"""The network demo runs as a learner would run it, and says what it checked."""

import subprocess
import sys

from tests.conftest import need_binary


def test_network_demo_exits_0_and_shows_both_clients():
    need_binary("git", "git")
    result = subprocess.run([sys.executable, "-m", "learn_git.demo_network"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "clone> command=ls-refs" in out and "clone< packfile" in out   # real git's packet trace (v2)
    assert "git< unpack ok" in out                                  # real git's push, traced
    assert "upload-pack< want " in out                              # http-backend's side, traced
    assert "> mini_git POST" in out and "want " in out              # our client's own trace
    assert "[remote rejected] main -> main (non-fast-forward)" in out
    assert "all checks passed" in out
