"""pack_reuse.py beside the walk: a clone of exactly the stored pack gets that pack, all else the walk's."""

import pytest

from learn_git.network.pack_stream import receive_pack_bytes
from learn_git.network.pack_write import pack_from_store
from learn_git.network.smart_http_peers import bare_repository, git, make_history, start_our_server
from learn_git.network.upload_pack import advertised_refs, pack_for
from learn_git.network.walk import objects_to_send
from learn_git.odb import ObjectStore

pytestmark = pytest.mark.differential


def packed_bare(env, tmp_path, commits=12):
    """A bare repository with ``commits`` commits and an annotated tag, ``git gc``-ed into one pack."""
    work, bare = tmp_path / "work", bare_repository(env, tmp_path / "served" / "r.git")
    make_history(env, work, commits, files_per_commit=3)
    git(env, "tag", "-a", "v1", "-m", "one", "HEAD~2", cwd=work)
    git(env, "push", "-q", str(bare), "main", "v1", cwd=work)
    git(env, "gc", "-q", cwd=bare)
    return bare, work


def lesson_objects(bare, wants, common=()):
    store = ObjectStore(bare)
    return receive_pack_bytes(pack_from_store(store, objects_to_send(store, wants, list(common)))).objects


def tips(bare):
    return sorted({oid for oid, _ in advertised_refs(bare, ObjectStore(bare))})


def stored_pack_bytes(bare):
    [pack] = (bare / "objects" / "pack").glob("pack-*.pack")
    return pack.read_bytes()


def test_the_second_clone_gets_the_stored_pack_with_the_walks_objects(env, tmp_path):
    bare, _ = packed_bare(env, tmp_path)
    wants = tips(bare)
    first = pack_for(bare, ObjectStore(bare), wants, [], True, True)
    second = pack_for(bare, ObjectStore(bare), wants, [], True, True)
    assert first[1] != second[1]                       # the first was written after a walk
    assert second[1] == stored_pack_bytes(bare)        # the second is the stored pack, as it is
    assert first[0] == second[0] == len(lesson_objects(bare, wants))
    expected = lesson_objects(bare, wants)
    assert receive_pack_bytes(second[1]).objects == receive_pack_bytes(first[1]).objects == expected


def rev(env, cwd, name):
    return git(env, "rev-parse", name, cwd=cwd).stdout.decode().strip()


@pytest.mark.parametrize("case", ["fetch", "no ofs-delta", "unreachable objects in the pack",
                                  "a loose commit", "two packs"])
def test_anything_but_exactly_the_stored_pack_is_walked(env, tmp_path, case):
    bare, work = packed_bare(env, tmp_path)
    common, ofs = [], True
    if case == "fetch":
        common = [rev(env, work, "HEAD~1")]
    elif case == "no ofs-delta":
        ofs = False
    elif case == "unreachable objects in the pack":   # a branch packed, then deleted
        git(env, "checkout", "-q", "-b", "side", cwd=work)
        make_history(env, work, 1, start=40)
        git(env, "push", "-q", str(bare), "side", cwd=work)
        git(env, "gc", "-q", cwd=bare)
        git(env, "update-ref", "-d", "refs/heads/side", cwd=bare)
    else:   # a commit pushed after gc: loose (a small push is unpacked), or packed on its own
        make_history(env, work, 1, start=40)
        git(env, "push", "-q", str(bare), "main", cwd=work)
        if case == "two packs":
            git(env, "repack", "-q", cwd=bare)
    wants = tips(bare)
    stored = {path.read_bytes() for path in (bare / "objects" / "pack").glob("pack-*.pack")}
    expected = lesson_objects(bare, wants, common)
    for _ in range(2):   # the second answer too: no verdict lets the stored pack through
        count, pack = pack_for(bare, ObjectStore(bare), wants, common, ofs, False)
        assert pack not in stored
        assert count == len(expected)
        assert receive_pack_bytes(pack).objects == expected


def test_a_new_tag_that_include_tag_adds_is_not_in_the_reused_answer(env, tmp_path):
    bare, work = packed_bare(env, tmp_path)
    wants = [rev(env, work, "main")]
    for _ in range(2):
        count, pack = pack_for(bare, ObjectStore(bare), wants, [], True, True)
    assert pack == stored_pack_bytes(bare)   # main reaches every object, and v1 rides along
    git(env, "tag", "-a", "v2", "-m", "two", "main", cwd=bare)
    count, pack = pack_for(bare, ObjectStore(bare), wants, [], True, True)
    received = receive_pack_bytes(pack, ObjectStore(bare).read).objects
    assert rev(env, bare, "v2") in received
    assert count == len(received) == len(receive_pack_bytes(stored_pack_bytes(bare)).objects) + 1


@pytest.mark.parametrize("version", ["2", "0"])
def test_real_git_clones_the_reused_pack_and_fsck_accepts_it(env, tmp_path, version):
    bare, work = packed_bare(env, tmp_path)
    [stored] = [path.name for path in (bare / "objects" / "pack").glob("pack-*.pack")]
    server = start_our_server(bare.parent, env)
    try:
        for n in range(3):   # the first clone walks; the next ones get the stored pack
            target = tmp_path / f"c{n}"
            # (unpackLimit=1: git keeps even a small v0 pack as received instead of unpacking it)
            git(env, "-c", f"protocol.version={version}", "-c", "transfer.unpackLimit=1", "clone", "-q",
                f"http://127.0.0.1:{server.port}/r.git", str(target))
            git(env, "fsck", "--strict", cwd=target)
            # git names a received pack by its checksum: the stored pack's name when it got that pack
            received = [path.name for path in (target / ".git" / "objects" / "pack").glob("pack-*.pack")]
            assert (received == [stored]) == (n > 0)
            for ref in ("HEAD", "v1"):
                assert (git(env, "rev-parse", ref, cwd=target).stdout
                        == git(env, "rev-parse", ref, cwd=work).stdout)
    finally:
        server.stop()
