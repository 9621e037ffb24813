"""pack_write_ofs.py beside the lesson's pack_write.pack_from_store: same objects, OFS_DELTA, git reads it."""

import pytest

from learn_git.network.pack_stream import receive_pack_bytes
from learn_git.network.pack_write import pack_from_store
from learn_git.network.pack_write_ofs import encode_ofs_distance
from learn_git.network.pack_write_ofs import pack_from_store as pack_ofs
from learn_git.network.smart_http_peers import git, make_history
from learn_git.odb import ObjectStore
from learn_git.pack import OBJ_OFS_DELTA, OBJ_REF_DELTA, parse_ofs_offset, parse_pack_header, read_pack_entry

pytestmark = pytest.mark.differential


@pytest.mark.parametrize("distance", [1, 127, 128, 129, 16383, 16384, 16511, 16512, 2**21, 2**35 + 7])
def test_the_distance_reads_back_as_the_lesson_reads_it(distance):
    encoded = encode_ofs_distance(distance)
    assert parse_ofs_offset(encoded, 0) == (distance, len(encoded))


def entry_types(pack):
    types, offset = [], 12
    for _ in range(parse_pack_header(pack)):
        entry = read_pack_entry(pack[:-20], offset)
        types.append((entry.offset, entry.type_code, entry.base_offset))
        offset = entry.end
    return types


def test_same_objects_as_the_lesson_bases_first_and_git_index_pack_accepts_it(env, tmp_path):
    work = tmp_path / "w"
    make_history(env, work, 40, files_per_commit=2)
    git(env, "gc", "-q", "--aggressive", cwd=work)
    oids = [line.split()[0] for line in
            git(env, "rev-list", "--objects", "--all", cwd=work).stdout.decode().splitlines()]
    store = ObjectStore(work / ".git")
    lesson, ours = pack_from_store(store, oids), pack_ofs(store, oids)
    assert receive_pack_bytes(ours).objects == receive_pack_bytes(lesson).objects
    types = entry_types(ours)
    starts = {offset for offset, _, _ in types}
    assert any(code == OBJ_OFS_DELTA for _, code, _ in types)
    assert not any(code == OBJ_REF_DELTA for _, code, _ in types)
    assert all(base in starts and base < offset for offset, code, base in types if code == OBJ_OFS_DELTA)
    assert len(ours) < len(lesson)
    path = tmp_path / "ofs.pack"
    path.write_bytes(ours)
    git(env, "index-pack", "--strict", str(path))
    # a subset whose deltas' bases are not all sent: those objects go whole, never as a dangling delta
    half = oids[::2]
    expected = receive_pack_bytes(pack_from_store(store, half)).objects
    assert receive_pack_bytes(pack_ofs(store, half)).objects == expected
