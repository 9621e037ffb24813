"""Our client (python -m learn_git clone/fetch/pull/push) against git http-backend, and against ours."""

import itertools

import pytest

from learn_git.network.smart_http_peers import (
    bare_repository,
    git,
    git_env,
    make_history,
    mini_git,
    start_backend,
    start_our_server,
)
from tests.conftest import need_binary

pytestmark = pytest.mark.differential

counter = itertools.count()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """One root served twice: by git http-backend (through our CGI bridge) and by our server."""
    need_binary("git", "git")
    base = tmp_path_factory.mktemp("client")
    env = git_env(base / "home")
    root = base / "root"
    root.mkdir()
    backend = start_backend(root, env)
    ours = start_our_server(root, env)
    try:
        yield root, env, {"backend": backend.port, "ours": ours.port}
    finally:
        ours.stop()
        backend.stop()


@pytest.fixture(params=["backend", "ours"])
def remote(request, servers, tmp_path):
    """(bare repo, push URL with credentials, seed work tree, env) for each server."""
    root, env, ports = servers
    name = f"c{next(counter)}.git"
    bare = bare_repository(env, root / name)
    work = tmp_path / "seed"
    make_history(env, work, 4)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    return bare, f"http://alice:secret@127.0.0.1:{ports[request.param]}/{name}", work, env


def rev(env, cwd, name="HEAD"):
    return git(env, "rev-parse", name, cwd=cwd).stdout.decode().strip()


def test_clone_checks_out_a_clean_work_tree_git_accepts(remote, tmp_path):
    bare, url, work, env = remote
    mini_git(env, "clone", url, str(tmp_path / "m"))
    assert rev(env, tmp_path / "m") == rev(env, work)
    assert git(env, "status", "--porcelain", cwd=tmp_path / "m").stdout == b""
    assert rev(env, tmp_path / "m", "origin/main") == rev(env, work)
    git(env, "fsck", "--strict", cwd=tmp_path / "m")


def test_fetch_and_fast_forward_pull(remote, tmp_path):
    bare, url, work, env = remote
    clone = tmp_path / "m"
    mini_git(env, "clone", url, str(clone))
    make_history(env, work, 3, start=4)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    fetched = mini_git(env, "fetch", "-v", cwd=clone)
    assert b"negotiation:" in fetched.stdout and b"> client   POST" in fetched.stdout
    assert rev(env, clone, "origin/main") == rev(env, work)
    mini_git(env, "pull", cwd=clone)
    assert rev(env, clone) == rev(env, work)
    assert git(env, "status", "--porcelain", cwd=clone).stdout == b""
    git(env, "fsck", "--strict", cwd=clone)


def test_push_new_commits_and_a_new_branch_then_fsck_the_server(remote, tmp_path):
    bare, url, work, env = remote
    clone = tmp_path / "g"
    git(env, "clone", "-q", url, str(clone))        # real git makes the commits; ours pushes them
    make_history(env, clone, 2, start=10)
    mini_git(env, "push", cwd=clone)
    mini_git(env, "push", "origin", "main:refs/heads/copy", cwd=clone)
    assert rev(env, bare, "main") == rev(env, clone) == rev(env, bare, "copy")
    git(env, "fsck", "--strict", cwd=bare)


def test_a_non_fast_forward_push_is_reported_and_changes_nothing(remote, tmp_path):
    bare, url, work, env = remote
    clone = tmp_path / "g"
    git(env, "clone", "-q", url, str(clone))
    before = rev(env, bare, "main")
    git(env, "reset", "-q", "--hard", "HEAD~1", cwd=clone)
    make_history(env, clone, 1, start=20)
    result = mini_git(env, "push", cwd=clone, check=False)
    assert result.returncode == 1
    assert b"[rejected]" in result.stdout and b"non-fast-forward" in result.stdout
    assert rev(env, bare, "main") == before


def test_our_server_refuses_a_forced_non_fast_forward_from_our_client(servers, tmp_path):
    root, env, ports = servers
    bare = bare_repository(env, root / "forced.git")
    work = tmp_path / "seed"
    make_history(env, work, 3)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    url = f"http://alice:secret@127.0.0.1:{ports['ours']}/forced.git"
    git(env, "remote", "add", "origin", url, cwd=work)
    git(env, "reset", "-q", "--hard", "HEAD~1", cwd=work)
    make_history(env, work, 1, start=9)
    result = mini_git(env, "push", "--force", cwd=work, check=False)
    assert result.returncode == 1
    assert b"[remote rejected]" in result.stdout and b"(non-fast-forward)" in result.stdout


def test_an_atomic_push_moves_no_ref_when_our_server_refuses_one(servers, tmp_path):
    root, env, ports = servers
    bare = bare_repository(env, root / "atomic.git")
    work = tmp_path / "seed"
    make_history(env, work, 3)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    git(env, "remote", "add", "origin", f"http://alice:secret@127.0.0.1:{ports['ours']}/atomic.git", cwd=work)
    git(env, "reset", "-q", "--hard", "HEAD~1", cwd=work)
    make_history(env, work, 1, start=9)
    result = mini_git(env, "push", "--force", "--atomic", "origin", "main", "main:refs/heads/other",
                      cwd=work, check=False)
    assert result.returncode == 1
    assert b"main -> main (non-fast-forward)" in result.stdout
    assert b"main -> other (atomic push failed" in result.stdout
    assert git(env, "show-ref", "--verify", "-q", "refs/heads/other", cwd=bare, check=False).returncode != 0
    # Unforced, our client refuses main itself, and with it the whole push, before sending anything.
    plain = mini_git(env, "push", "--atomic", "origin", "main", "main:refs/heads/other", cwd=work,
                     check=False)
    assert b"[rejected]" in plain.stdout and b"(atomic push failed)" in plain.stdout


def test_pull_refuses_to_overwrite_local_changes_and_keeps_unrelated_ones(servers, tmp_path):
    root, env, ports = servers
    bare = bare_repository(env, root / "local-changes.git")
    work = tmp_path / "seed"
    make_history(env, work, 2)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    clone = tmp_path / "m"
    mini_git(env, "clone", f"http://127.0.0.1:{ports['ours']}/local-changes.git", str(clone))
    make_history(env, work, 1, start=50)   # commit 50 changes dir0/file0.txt
    git(env, "push", "-q", str(bare), "main", cwd=work)
    (clone / "dir0" / "file0.txt").write_text("my unsaved work\n")     # the file the new commit changes
    (clone / "dir1" / "file1.txt").write_text("unrelated work\n")      # a file it does not touch
    result = mini_git(env, "pull", cwd=clone, check=False)
    assert result.returncode != 0 and b"local changes" in result.stderr and b"dir0/file0.txt" in result.stderr
    assert (clone / "dir0" / "file0.txt").read_text() == "my unsaved work\n"
    assert rev(env, clone) != rev(env, work)
    git(env, "checkout", "--", "dir0/file0.txt", cwd=clone)
    mini_git(env, "pull", cwd=clone)                                     # like git: unrelated work stays
    assert rev(env, clone) == rev(env, work)
    assert (clone / "dir1" / "file1.txt").read_text() == "unrelated work\n"
    assert git(env, "status", "--porcelain", cwd=clone).stdout == b" M dir1/file1.txt\n"


def test_pull_refuses_a_diverged_branch(servers, tmp_path):
    root, env, ports = servers
    bare = bare_repository(env, root / "diverged.git")
    work = tmp_path / "seed"
    make_history(env, work, 2)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    clone = tmp_path / "m"
    mini_git(env, "clone", f"http://127.0.0.1:{ports['ours']}/diverged.git", str(clone))
    make_history(env, work, 1, start=2)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    make_history(env, clone, 1, start=3)                     # a local commit: the histories diverge
    mine = rev(env, clone)
    result = mini_git(env, "pull", cwd=clone, check=False)
    assert result.returncode == 128 and b"Not possible to fast-forward" in result.stderr
    assert rev(env, clone) == mine and rev(env, clone, "origin/main") == rev(env, work)


def test_clone_without_a_server_fails_clearly_and_leaves_nothing(servers, tmp_path):
    root, env, ports = servers
    result = mini_git(env, "clone", f"http://127.0.0.1:{ports['ours']}/missing.git", str(tmp_path / "x"),
                      check=False)
    assert result.returncode == 128 and b"HTTP 404" in result.stderr
    assert not (tmp_path / "x").exists()
