"""mini_git reads what real git wrote: loose objects, packs with deltas (after ``git gc``), the index.

A repository is built with real git only -- many similar versions of one file
so that ``git gc`` stores most of them as deltas -- and then every object is
read back through mini_git's ``ObjectStore`` and compared with ``git cat-file``.
"""

from __future__ import annotations

import struct
import subprocess

import pytest

from learn_git.errors import IndexFormatError
from learn_git.index import parse_index, read_index, serialize_index
from learn_git.objects import hash_object
from learn_git.pack import OBJ_OFS_DELTA, OBJ_REF_DELTA, read_pack_entry
from learn_git.refs import list_refs, read_head
from learn_git.repo import Repository
from learn_git.sidebyside import fixed_env, run_git, run_mini
from tests.conftest import need_binary


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory):
    need_binary("git", "git")
    root = tmp_path_factory.mktemp("real")
    home = root / "home"
    home.mkdir()
    work = root / "work"
    work.mkdir()
    env = fixed_env(home)
    git = lambda *a: run_git(work, list(a), env)  # noqa: E731
    git("init", "-q", "-b", "main")
    lines = [f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(300)]
    for version in range(25):
        lines[version * 7] = f"version {version} changed this line\n"
        (work / "big.txt").write_text("".join(lines))
        (work / f"dir/v{version % 3}.txt").parent.mkdir(exist_ok=True)
        (work / f"dir/v{version % 3}.txt").write_text(f"small {version}\n")
        env.update(fixed_env(home, version))
        git("add", "-A")
        git("commit", "-q", "-m", f"version {version}")
    git("tag", "-a", "v1", "-m", "annotated")
    git("branch", "side", "HEAD~3")
    return work, env


def all_objects(work, env) -> list[str]:
    out = run_git(work, ["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"], env).text
    return out.split()


def check_every_object(work, env) -> int:
    repo = Repository.discover(work)
    oids = all_objects(work, env)
    for oid in oids:
        kind, body = repo.odb.read(oid)
        assert hash_object(kind, body) == oid
        assert kind == run_git(work, ["cat-file", "-t", oid], env).text.strip()
    return len(oids)


def test_loose_objects_written_by_git_read_back(git_repo):
    work, env = git_repo
    assert check_every_object(work, env) > 50


def test_packed_objects_with_deltas_read_back_after_gc(git_repo):
    work, env = git_repo
    run_git(work, ["gc", "-q", "--aggressive"], env)
    packs = list((work / ".git/objects/pack").glob("*.pack"))
    assert packs and not list((work / ".git/objects").glob("[0-9a-f][0-9a-f]/*"))
    buf = packs[0].read_bytes()
    kinds, offset = [], 12
    for _ in range(struct.unpack(">I", buf[8:12])[0]):
        entry = read_pack_entry(buf, offset)
        kinds.append(entry.type_code)
        offset = entry.end
    assert offset == len(buf) - 20
    assert sum(k in (OBJ_OFS_DELTA, OBJ_REF_DELTA) for k in kinds) > 10, "the pack should hold deltas"
    assert check_every_object(work, env) > 50
    # packed-refs after gc: refs still resolve, the tag is peeled
    refs = list_refs(work / ".git")
    assert refs["refs/heads/main"] == read_head(work / ".git").oid
    assert set(refs) >= {"refs/heads/main", "refs/heads/side", "refs/tags/v1"}
    for args in (["log", "--oneline"], ["ls-tree", "-r", "HEAD~2"], ["cat-file", "-p", "v1"],
                 ["status", "--porcelain"], ["log", "--oneline", "side"]):
        assert run_mini(work, args, env).out == run_git(work, args, env).out, args


def test_index_written_by_git_is_read_and_rewritten_identically(git_repo):
    work, env = git_repo
    run_git(work, ["update-index", "--index-version", "2"], env)
    raw = (work / ".git/index").read_bytes()
    entries = parse_index(raw)
    listed = run_git(work, ["ls-files", "-s"], env).text.splitlines()
    assert [f"{e.mode:o} {e.oid} {e.stage}\t{e.path}" for e in entries] == listed
    # git adds a TREE extension we skip; without it the bytes are ours exactly
    ours = serialize_index(entries)
    assert ours[:-20] == raw[:len(ours) - 20]


def test_index_version_4_is_refused_with_a_clear_message(git_repo, tmp_path):
    work, env = git_repo
    run_git(work, ["update-index", "--index-version", "4"], env)
    try:
        with pytest.raises(IndexFormatError, match="version 4"):
            read_index(work / ".git/index")
        result = run_mini(work, ["status"], env)
        assert result.code == 128 and b"index version 4" in result.err
    finally:
        run_git(work, ["update-index", "--index-version", "2"], env)


def test_required_index_extension_is_refused_and_optional_ones_skipped():
    entries = parse_index(serialize_index([]))
    assert entries == []
    import hashlib
    body = serialize_index([])[:-20]
    optional = body + b"ZZZZ" + struct.pack(">I", 3) + b"abc"
    assert parse_index(optional + hashlib.sha1(optional).digest()) == []
    required = body + b"link" + struct.pack(">I", 0)
    with pytest.raises(IndexFormatError, match="required"):
        parse_index(required + hashlib.sha1(required).digest())


def test_git_can_read_mini_gits_pack_free_repository_after_its_own_gc(tmp_path):
    need_binary("git", "git")
    env = fixed_env(tmp_path)
    work = tmp_path / "w"
    work.mkdir()
    run_mini(work, ["init", "-q"], env)
    (work / "f").write_text("x\n")
    run_mini(work, ["add", "f"], env)
    run_mini(work, ["commit", "-q", "-m", "one"], env)
    subprocess.run(["git", "gc", "-q"], cwd=work, env=env, check=True)
    assert run_mini(work, ["log", "--oneline"], env).out == run_git(work, ["log", "--oneline"], env).out
