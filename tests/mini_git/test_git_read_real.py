"""mini_git reads what real git wrote: loose objects, packs with deltas (after ``git gc``), the index.

A repository is built with real git only -- many similar versions of one file
so that ``git gc`` stores most of them as deltas -- and then every object is
read back through mini_git's ``ObjectStore`` and compared with ``git cat-file``.
"""

from __future__ import annotations

import hashlib
import shutil
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

pytestmark = pytest.mark.differential


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


def pack_kinds(pack_path) -> list[int]:
    """The entry type of every object in a pack, read with mini_git's parser."""
    buf = pack_path.read_bytes()
    kinds, offset = [], 12
    for _ in range(struct.unpack(">I", buf[8:12])[0]):
        entry = read_pack_entry(buf, offset)
        kinds.append(entry.type_code)
        offset = entry.end
    assert offset == len(buf) - 20
    return kinds


def test_loose_objects_written_by_git_read_back(git_repo):
    work, env = git_repo
    assert check_every_object(work, env) > 50


def test_packed_objects_with_deltas_read_back_after_gc(git_repo):
    work, env = git_repo
    run_git(work, ["gc", "-q", "--aggressive"], env)
    packs = list((work / ".git/objects/pack").glob("*.pack"))
    assert packs and not list((work / ".git/objects").glob("[0-9a-f][0-9a-f]/*"))
    kinds = pack_kinds(packs[0])
    assert kinds.count(OBJ_OFS_DELTA) > 10, "the pack should hold deltas (gc writes OFS_DELTA)"
    assert check_every_object(work, env) > 50
    # packed-refs after gc: refs still resolve, the tag is peeled
    refs = list_refs(work / ".git")
    assert refs["refs/heads/main"] == read_head(work / ".git").oid
    assert set(refs) >= {"refs/heads/main", "refs/heads/side", "refs/tags/v1"}
    for args in (["log", "--oneline"], ["ls-tree", "-r", "HEAD~2"], ["cat-file", "-p", "v1"],
                 ["status", "--porcelain"], ["log", "--oneline", "side"]):
        assert run_mini(work, args, env).out == run_git(work, args, env).out, args


def test_ref_delta_pack_written_by_pack_objects_reads_back(git_repo, tmp_path):
    """``git gc`` writes OFS_DELTA only; ``pack-objects`` without ``--delta-base-offset`` names each
    delta's base by its id (REF_DELTA), as old servers and thin packs do."""
    work, env = git_repo
    copy = tmp_path / "copy"
    shutil.copytree(work, copy, symlinks=True)
    objects = "\n".join(all_objects(copy, env)) + "\n"
    pack_dir = copy / ".git/objects/pack"
    for old in pack_dir.iterdir():
        old.unlink()
    shutil.rmtree(copy / ".git/objects/info", ignore_errors=True)
    made = run_git(work, ["pack-objects", "-q", "--no-reuse-delta", "--window=50", str(pack_dir / "pack")],
                   env, objects.encode())
    assert made.code == 0, made.err
    for loose in (copy / ".git/objects").glob("[0-9a-f][0-9a-f]"):
        shutil.rmtree(loose)
    kinds = pack_kinds(next(pack_dir.glob("*.pack")))
    assert kinds.count(OBJ_REF_DELTA) > 10 and OBJ_OFS_DELTA not in kinds
    assert check_every_object(copy, env) > 50
    assert run_mini(copy, ["log", "--oneline"], env).out == run_git(copy, ["log", "--oneline"], env).out


def write_idx_v2(pack: bytes, rows: list[tuple[int, str, int]]) -> bytes:
    """An ``.idx`` v2 for ``pack`` from (offset, oid, crc32) rows (as ``git show-index`` prints them)."""
    rows = sorted(rows, key=lambda r: r[1])
    names = [bytes.fromhex(oid) for _, oid, _ in rows]
    fanout = [sum(1 for n in names if n[0] <= i) for i in range(256)]
    body = (b"\377tOc" + struct.pack(">I", 2) + struct.pack(">256I", *fanout) + b"".join(names)
            + b"".join(struct.pack(">I", crc) for *_, crc in rows)
            + b"".join(struct.pack(">I", off) for off, *_ in rows) + pack[-20:])
    return body + hashlib.sha1(body).digest()


def test_thin_pack_whose_ref_delta_bases_live_outside_it_reads_back(git_repo, tmp_path):
    """A thin pack (what fetch sends) has REF_DELTAs against objects the receiver already has;
    ``Pack.read`` must fetch those bases from the rest of the object store."""
    work, env = git_repo
    dest = tmp_path / "dest"
    run_git(tmp_path, ["init", "-q", "--bare", str(dest)], env)
    old = run_git(work, ["pack-objects", "-q", "--revs", "--stdout"], env, b"HEAD~4\n").out
    assert run_git(dest, ["index-pack", "--stdin"], env, old).code == 0  # the receiver's objects
    thin = run_git(work, ["pack-objects", "-q", "--revs", "--thin", "--stdout"], env, b"HEAD\n^HEAD~4\n").out
    # Let git index a completed copy (--fix-thin appends the bases) to learn each entry's id;
    # the entries we care about keep their offsets, so their rows describe the thin pack too.
    helper = tmp_path / "helper"
    shutil.copytree(dest, helper)
    assert run_git(helper, ["index-pack", "--stdin", "--fix-thin"], env, thin).code == 0
    fixed_idx = max((helper / "objects/pack").glob("*.idx"), key=lambda p: p.stat().st_mtime_ns)
    rows = []
    for line in run_git(helper, ["show-index"], env, fixed_idx.read_bytes()).text.splitlines():
        offset, oid, crc = line.split()
        if int(offset) < len(thin) - 20:
            rows.append((int(offset), oid, int(crc.strip("()"), 16)))
    name = dest / "objects/pack" / f"pack-{thin[-20:].hex()}"
    name.with_suffix(".pack").write_bytes(thin)
    name.with_suffix(".idx").write_bytes(write_idx_v2(thin, rows))
    in_thin = {oid for _, oid, _ in rows}
    buf = name.with_suffix(".pack").read_bytes()
    outside = [e.base_oid for e in (read_pack_entry(buf, off) for off, _, _ in rows)
               if e.type_code == OBJ_REF_DELTA and e.base_oid not in in_thin]
    assert outside, "the pack should be thin: some deltas must name a base it does not hold"
    repo = Repository(dest, None)
    for line in run_git(work, ["rev-list", "--objects", "HEAD"], env).text.splitlines():
        oid = line.split(" ")[0]
        kind, body = repo.odb.read(oid)
        assert hash_object(kind, body) == oid


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
