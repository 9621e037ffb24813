"""Packs: ours must satisfy git index-pack/verify-pack; git's (deltas, thin) must satisfy ours."""

import hashlib
import struct
import subprocess

import pytest

from learn_git.network.pack_stream import PackError, receive_pack_bytes, store_received
from learn_git.network.pack_write import pack_from_store, write_idx, write_pack
from learn_git.network.smart_http_peers import git, make_history
from learn_git.network.walk import is_ancestor, objects_to_send
from learn_git.objects import hash_object
from learn_git.odb import ObjectStore

pytestmark = pytest.mark.differential


@pytest.fixture
def history(env, tmp_path):
    """A work tree with 12 commits whose files change a little each time (good delta bases)."""
    work = tmp_path / "work"
    make_history(env, work, 12, files_per_commit=3)
    return work


def rev(env, work, name):
    return git(env, "rev-parse", name, cwd=work).stdout.decode().strip()


def git_pack(env, work, revs, *options):
    """What ``git pack-objects`` sends for ``revs`` (deltas included)."""
    return git(env, "pack-objects", "--stdout", "--revs", *options, cwd=work,
               input="\n".join(revs).encode() + b"\n").stdout


def test_our_pack_and_idx_satisfy_git_index_pack_and_verify_pack(tmp_path):
    blobs = [(b"line %d\n" % i) * i for i in range(200)]
    objects = [(hash_object("blob", data), "blob", data) for data in blobs]
    pack, entries = write_pack(objects, len(objects))
    (tmp_path / "ours.pack").write_bytes(pack)
    (tmp_path / "ours.idx").write_bytes(write_idx(entries, pack[-20:]))
    subprocess.run(["git", "index-pack", "-o", str(tmp_path / "git.idx"), str(tmp_path / "ours.pack")],
                   check=True, capture_output=True)
    assert (tmp_path / "git.idx").read_bytes() == (tmp_path / "ours.idx").read_bytes()
    listing = subprocess.run(["git", "verify-pack", "-v", str(tmp_path / "ours.idx")], check=True,
                             capture_output=True, text=True).stdout
    assert sum(line.split()[1:2] == ["blob"] for line in listing.splitlines()) == len(set(blobs))


def test_a_pack_of_a_whole_history_is_accepted_by_git(env, history, tmp_path):
    odb = ObjectStore(history / ".git")
    oids = objects_to_send(odb, [rev(env, history, "HEAD")], [])
    expected = git(env, "rev-list", "--objects", "HEAD", cwd=history).stdout.decode().split("\n")
    assert set(oids) == {line.split()[0] for line in expected if line}
    (tmp_path / "h.pack").write_bytes(pack_from_store(odb, oids))
    git(env, "index-pack", str(tmp_path / "h.pack"))
    git(env, "verify-pack", str(tmp_path / "h.idx"))


def test_objects_to_send_matches_git_rev_list_for_an_incremental_fetch(env, history):
    odb = ObjectStore(history / ".git")
    new, old = rev(env, history, "HEAD"), rev(env, history, "HEAD~5")
    ours = set(objects_to_send(odb, [new], [old]))
    theirs = git(env, "rev-list", "--objects", "HEAD", "^HEAD~5", cwd=history).stdout.decode().split("\n")
    assert ours == {line.split()[0] for line in theirs if line}
    assert is_ancestor(odb, old, new) and not is_ancestor(odb, new, old)


def test_we_resolve_git_deltas_and_every_object_matches(env, history):
    pack = git_pack(env, history, ["HEAD"], "--window=50")
    received = receive_pack_bytes(pack)
    assert received.deltas > 0, "the history should give git something to deltify"
    odb = ObjectStore(history / ".git")
    for oid, (kind, data) in received.objects.items():
        assert odb.read(oid) == (kind, data)


def test_a_thin_pack_needs_and_uses_bases_from_the_store(env, history):
    pack = git_pack(env, history, ["HEAD", "^HEAD~3"], "--thin")
    odb = ObjectStore(history / ".git")
    received = receive_pack_bytes(pack, odb.read)
    assert received.thin_bases, "git should have made REF_DELTAs against objects outside the pack"
    with pytest.raises(PackError, match="no base|do not have"):
        receive_pack_bytes(pack)


def test_a_received_pack_is_stored_with_an_idx_git_accepts(env, history, tmp_path):
    bare = tmp_path / "copy.git"
    git(env, "init", "-q", "--bare", str(bare))
    store_received(bare, receive_pack_bytes(git_pack(env, history, ["HEAD"])))
    git(env, "update-ref", "refs/heads/main", rev(env, history, "HEAD"), cwd=bare)
    git(env, "fsck", "--strict", cwd=bare)


def test_a_bad_checksum_is_refused(env, history):
    pack = bytearray(git_pack(env, history, ["HEAD"]))
    pack[-1] ^= 0xFF
    with pytest.raises(PackError, match="checksum"):
        receive_pack_bytes(bytes(pack))


def test_a_truncated_object_is_refused_even_with_a_valid_trailer():
    data = b"hello world\n" * 100
    pack, _ = write_pack([(hash_object("blob", data), "blob", data)], 1)
    body = pack[:-20][:-10]                         # cut the zlib stream short
    forged = body + hashlib.sha1(body).digest()     # ... and give it a correct checksum
    with pytest.raises(PackError):
        receive_pack_bytes(forged)


def test_a_pack_announcing_more_objects_than_it_holds_is_refused():
    data = b"x\n"
    pack, _ = write_pack([(hash_object("blob", data), "blob", data)], 1)
    body = pack[:8] + struct.pack(">I", 2) + pack[12:-20]
    with pytest.raises(PackError, match="ends after 1 of its 2"):
        receive_pack_bytes(body + hashlib.sha1(body).digest())


def test_pack_reuse_copies_stored_deltas_into_a_pack_git_accepts(env, history, tmp_path):
    git(env, "gc", "-q", "--aggressive", cwd=history)         # one pack, full of deltas
    odb = ObjectStore(history / ".git")
    oids = objects_to_send(odb, [rev(env, history, "HEAD")], [])
    reused, whole = pack_from_store(odb, oids), pack_from_store(odb, oids, reuse=False)
    assert len(reused) < len(whole)
    (tmp_path / "r.pack").write_bytes(reused)
    git(env, "index-pack", "--strict", str(tmp_path / "r.pack"))
    listing = git(env, "verify-pack", "-v", str(tmp_path / "r.idx")).stdout.decode()
    assert "chain length" in listing                            # git found deltas in our pack
    assert set(receive_pack_bytes(reused).objects) == set(oids)


def test_pack_reuse_sends_whole_objects_when_the_base_is_not_sent(env, history):
    git(env, "gc", "-q", "--aggressive", cwd=history)
    odb = ObjectStore(history / ".git")
    oids = objects_to_send(odb, [rev(env, history, "HEAD")], [rev(env, history, "HEAD~1")])
    received = receive_pack_bytes(pack_from_store(odb, oids))   # no read_outside: must not be thin
    assert set(received.objects) == set(oids)
