"""The fast clone (network/clone_fast.py) against the lesson's (--plain clone): the same repository.

Both clone the same URL, from git http-backend (OFS_DELTA packs) and from our server (REF_DELTA
packs whose bases may come after the delta); real git must then find the same refs, objects,
index and files in both, ``git fsck --strict`` clean and ``git status`` clean.
"""

import os

import pytest

from learn_git.delta import DeltaError, apply_delta
from learn_git.network.clone_fast import apply_delta as fast_apply
from learn_git.network.clone_fast import index_pack
from learn_git.network.pack_stream import PackError, receive_pack_bytes
from learn_git.network.pack_write import pack_from_store, write_idx
from learn_git.network.smart_http_peers import (
    bare_repository,
    git,
    git_env,
    make_history,
    mini_git,
    start_backend,
    start_our_server,
)
from learn_git.odb import ObjectStore
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A repository with history, a subdirectory tree, an executable, a symlink and a tag, served twice."""
    need_binary("git", "git")
    base = tmp_path_factory.mktemp("clonefast")
    env = git_env(base / "home")
    work = base / "seed"
    make_history(env, work, 12, files_per_commit=3)
    (work / "deep" / "er").mkdir(parents=True)
    (work / "deep" / "er" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(work / "deep" / "er" / "run.sh", 0o755)
    os.symlink("deep/er/run.sh", work / "link")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "modes", cwd=work)
    git(env, "tag", "-a", "v1", "-m", "one", cwd=work)
    git(env, "branch", "side", "HEAD~3", cwd=work)
    root = base / "root"
    root.mkdir()
    bare = bare_repository(env, root / "r.git")
    git(env, "push", "-q", "--tags", str(bare), "main", "side", cwd=work)
    git(env, "gc", "-q", cwd=bare)   # one pack with deltas, as a served repository usually is
    backend, ours = start_backend(root, env), start_our_server(root, env)
    try:
        yield env, {"backend": backend.port, "ours": ours.port}, bare
    finally:
        ours.stop()
        backend.stop()


def snapshot(env, clone):
    """What real git sees in a clone: refs, every object, the index (without stat data), files."""
    def out(*args):
        return git(env, *args, cwd=clone).stdout
    files = {}
    for path in sorted(clone.rglob("*")):
        rel = path.relative_to(clone).as_posix()
        if rel == ".git" or rel.startswith(".git/"):
            continue
        if path.is_symlink():
            files[rel] = ("link", os.readlink(path))
        elif path.is_file():
            files[rel] = (oct(path.stat().st_mode & 0o777), path.read_bytes())
    return (out("for-each-ref"), out("symbolic-ref", "HEAD"), out("config", "--local", "--list"),
            out("cat-file", "--batch-all-objects", "--batch-check"), out("ls-files", "-s"), files)


@pytest.mark.parametrize("server", ["backend", "ours"])
def test_fast_and_plain_clone_give_the_same_repository(served, server, tmp_path):
    env, ports, _ = served
    url = f"http://127.0.0.1:{ports[server]}/r.git"
    fast, plain = tmp_path / "fast", tmp_path / "plain"
    traced = mini_git(env, "clone", "-v", url, str(fast))
    assert b"kept as received, with an .idx" in traced.stdout   # the fast path ran, no fallback
    mini_git(env, "--plain", "clone", url, str(plain))
    for clone in (fast, plain):
        git(env, "fsck", "--strict", cwd=clone)
        assert git(env, "status", "--porcelain", cwd=clone).stdout == b""
    assert snapshot(env, fast) == snapshot(env, plain)
    # git keeps the pack as received (deltas and all); so does the fast path
    packs = list((fast / ".git" / "objects" / "pack").glob("*.pack"))
    assert len(packs) == 1
    verified = git(env, "verify-pack", "-v", str(packs[0].with_suffix(".idx")), cwd=fast).stdout
    assert b"chain length" in verified


def test_index_pack_matches_the_lesson_and_git_on_our_packs(served):
    """Objects equal to receive_pack_bytes', and the .idx byte for byte as the one git index-pack writes."""
    env, _, bare = served
    store = ObjectStore(bare)
    oids = git(env, "rev-list", "--objects", "--all", cwd=bare).stdout.decode().split()
    oids = [oid for oid in oids if len(oid) == 40]
    pack = pack_from_store(store, oids)   # REF_DELTA, bases in walk order
    received, placed = index_pack(pack)
    assert received.objects == receive_pack_bytes(pack).objects
    index = write_idx(placed, pack[-20:])
    path = bare.parent / "check.pack"
    path.write_bytes(pack)
    git(env, "index-pack", str(path))
    assert path.with_suffix(".idx").read_bytes() == index


def test_index_pack_reads_gits_own_pack_as_the_lesson_does(served):
    """git gc's pack (OFS_DELTA chains): the same objects; every delta applied as delta.py applies it."""
    _, _, bare = served
    (pack_path,) = (bare / "objects" / "pack").glob("*.pack")
    pack = pack_path.read_bytes()
    received, placed = index_pack(pack)
    assert received.deltas > 0 and received.objects == receive_pack_bytes(pack).objects
    assert write_idx(placed, pack[-20:]) == pack_path.with_suffix(".idx").read_bytes()


@pytest.mark.parametrize("delta", [
    bytes([12, 11, 0x90, 7, 4]) + b"git!",   # copy 7 bytes from 0, insert 4
    bytes([12, 9, 0x91, 7, 5, 4]) + b"git!",  # copy 5 bytes from offset 7, insert 4
    bytes([12, 5, 0x91, 10, 5]),            # the lesson's bad deltas (test_git_formats.py) from here
    bytes([12, 5, 4]) + b"ab",
    bytes([11, 0]),
    bytes([12, 3, 0]),
    bytes([12, 2, 3]) + b"abc",
    bytes([12, 11, 0x90]),                  # truncated inside a copy
])
def test_the_fast_delta_applier_gives_or_refuses_what_the_lessons_does(delta):
    base = b"hello, world"
    try:
        expected = apply_delta(base, delta)
    except DeltaError:
        with pytest.raises((DeltaError, ValueError, IndexError)):   # index_pack: then the lesson
            fast_apply(base, delta)
    else:
        assert fast_apply(base, delta) == expected


def test_index_pack_leaves_a_thin_or_damaged_pack_to_the_lesson(served):
    env, _, bare = served
    store = ObjectStore(bare)
    tip = git(env, "rev-parse", "main", cwd=bare).stdout.decode().strip()
    parent = git(env, "rev-parse", "main~1", cwd=bare).stdout.decode().strip()
    thin = git(env, "pack-objects", "--stdout", "--thin", "--revs", cwd=bare,
               input=f"{tip}\n^{parent}\n".encode()).stdout
    assert index_pack(thin) is None or receive_pack_bytes(thin, store.read).thin_bases == set()
    whole = pack_from_store(store, [tip])
    damaged = whole[:20] + bytes([whole[20] ^ 0xFF]) + whole[21:]
    assert index_pack(damaged) is None
    with pytest.raises(PackError):   # the lesson says what is wrong
        receive_pack_bytes(damaged)
