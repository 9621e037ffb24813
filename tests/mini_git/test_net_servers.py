"""Both servers on the common skeleton (`--port 0`, one ready line, `-q`); our clone's `--no-checkout`."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from learn_git.network.smart_http_peers import bare_repository, git, git_env, make_history, start_our_server
from tests.conftest import need_binary
from wirelab_common.processes import start_server

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize(("module", "name"), [("learn_git.network.http_server", "server"),
                                              ("learn_git.network.cgi_bridge", "backend")])
def test_a_quiet_server_on_port_0_prints_only_its_ready_line(tmp_path, module, name):
    need_binary("git", "git")  # the bridge runs git http-backend; the repository is made by git
    env = git_env(tmp_path / "home")
    bare_repository(env, tmp_path / "demo.git")
    with start_server([sys.executable, "-m", module, "--root", str(tmp_path), "--port", "0", "-q"],
                      name=name, env=env) as proc:
        assert proc.url == f"http://127.0.0.1:{proc.port}"
        reply = httpx.get(f"{proc.url}/demo.git/info/refs?service=git-upload-pack", timeout=10)
        assert reply.status_code == 200 and reply.content.startswith(b"001e# service=git-upload-pack\n")
        lines = proc.output().splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [lines[0]]  # its detail lines aside
    assert lines[0] == f"= {name:<8} listening on {proc.url}"


def test_clone_no_checkout_sets_head_and_leaves_the_work_tree_empty(tmp_path):
    need_binary("git", "git")
    env = git_env(tmp_path / "home")
    root = tmp_path / "root"
    root.mkdir()
    bare = bare_repository(env, root / "r.git")
    make_history(env, tmp_path / "seed", 2)
    git(env, "push", "-q", str(bare), "main", cwd=tmp_path / "seed")
    with start_our_server(root, env) as server:
        result = subprocess.run([sys.executable, "-m", "learn_git", "clone", "-n", f"{server.url}/r.git",
                                 str(tmp_path / "mine")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    mine = tmp_path / "mine"
    assert sorted(p.name for p in mine.iterdir()) == [".git"]
    assert git(env, "rev-parse", "HEAD", cwd=mine).stdout == git(env, "rev-parse", "main", cwd=bare).stdout
