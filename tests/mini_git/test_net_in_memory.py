"""Client and server halves talking through memory: request builders in, the server's pure functions out."""

import os

import pytest

from learn_git.network import pkt_line, upload_pack_v2
from learn_git.network.pack_stream import receive_pack_bytes
from learn_git.network.pack_write import pack_from_store
from learn_git.network.receive_pack import RefTransaction, serve_receive_pack
from learn_git.network.remote import parse_upload_result, want_request
from learn_git.network.remote_push import RefUpdate, parse_report, push_request
from learn_git.network.smart_http import UPLOAD_PACK, build_advertisement, parse_advertisement
from learn_git.network.smart_http_peers import (
    bare_repository,
    git,
    git_env,
    make_history,
    repository_snapshot,
)
from learn_git.network.upload_pack import advertised_refs, capabilities, serve_upload_pack
from learn_git.network.walk import objects_to_send
from learn_git.odb import ObjectStore
from tests.conftest import need_binary

pytestmark = pytest.mark.memory


@pytest.fixture
def served(tmp_path):
    """A bare repository with 6 commits and an annotated tag; the work tree that made them."""
    need_binary("git", "git")
    env = git_env(tmp_path / "home")
    work = tmp_path / "work"
    make_history(env, work, 6)
    git(env, "tag", "-a", "v1", "-m", "one", "HEAD~2", cwd=work)
    bare = bare_repository(env, tmp_path / "srv.git")
    git(env, "push", "-q", str(bare), "main", "v1", cwd=work)
    return bare, work, env


def rev(env, cwd, name):
    return git(env, "rev-parse", name, cwd=cwd).stdout.decode().strip()


def rev_list_objects(env, cwd, *revs):
    """What real git says a fetch of ``revs`` must carry."""
    lines = git(env, "rev-list", "--objects", *revs, cwd=cwd).stdout.decode().splitlines()
    return {line.split()[0] for line in lines}


def test_advertisement_round_trips_refs_peeled_tags_and_symref(served):
    bare, work, env = served
    odb = ObjectStore(bare)
    body = build_advertisement(UPLOAD_PACK, advertised_refs(bare, odb), capabilities(bare))
    advert = parse_advertisement(body, UPLOAD_PACK)
    assert advert.refs["refs/heads/main"] == rev(env, work, "main")
    assert advert.peeled["refs/tags/v1"] == rev(env, work, "HEAD~2")
    assert advert.head_target == "refs/heads/main"
    assert advert.has("multi_ack_detailed") and advert.has("side-band-64k")


def test_an_empty_repository_advertises_capabilities_on_a_placeholder_line():
    body = build_advertisement("git-receive-pack", [], ["report-status"])
    assert b"0000000000000000000000000000000000000000 capabilities^{}\0report-status" in body
    assert parse_advertisement(body, "git-receive-pack").refs == {}


def test_negotiation_acks_common_haves_then_sends_only_the_difference(served):
    bare, work, env = served
    odb = ObjectStore(bare)
    want, have = rev(env, work, "main"), rev(env, work, "HEAD~3")
    caps = ["multi_ack_detailed", "side-band-64k"]
    first, _ = serve_upload_pack(bare, odb, want_request([want], [have, "f" * 40], caps, done=False))
    acks, pack, _ = parse_upload_result(first)
    assert acks == [f"ACK {have} common", "NAK"] and pack is None
    final, stats = serve_upload_pack(bare, odb, want_request([want], [have], caps, done=True))
    acks, pack, _ = parse_upload_result(final)
    assert acks[-1] == f"ACK {have}"
    received = receive_pack_bytes(pack)
    assert set(received.objects) == rev_list_objects(env, work, want, f"^{have}")
    assert stats["objects"] == len(received)


def test_v2_ls_refs_filters_by_prefix_and_peels(served):
    bare, work, env = served
    body = pkt_line.encode_all(["command=ls-refs", "agent=test"], end=pkt_line.DELIM)
    body += pkt_line.encode_all(["peel", "symrefs", "ref-prefix refs/tags/"])
    reply, _ = upload_pack_v2.serve(bare, ObjectStore(bare), body)
    lines = [p.text() for p in pkt_line.decode_all(reply) if isinstance(p, pkt_line.Data)]
    assert lines == [f"{rev(env, work, 'v1')} refs/tags/v1 peeled:{rev(env, work, 'HEAD~2')}"]


def test_v2_fetch_answers_acknowledgments_then_a_packfile_section(served):
    bare, work, env = served
    want, have = rev(env, work, "main"), rev(env, work, "HEAD~1")
    head = pkt_line.encode_all(["command=fetch"], end=pkt_line.DELIM)
    reply, _ = upload_pack_v2.serve(bare, ObjectStore(bare),
                                    head + pkt_line.encode_all([f"want {want}", f"have {have}"]))
    assert [p.text() for p in pkt_line.decode_all(reply) if isinstance(p, pkt_line.Data)] == [
        "acknowledgments", f"ACK {have}"]
    reply, stats = upload_pack_v2.serve(bare, ObjectStore(bare), head + pkt_line.encode_all(
        [f"want {want}", f"have {have}", "done"]))
    packets = pkt_line.decode_all(reply)
    assert packets[0] == pkt_line.Data(b"packfile\n")
    band = pkt_line.demux_sideband(packets[1:])
    assert set(receive_pack_bytes(band.data).objects) == rev_list_objects(env, work, want, f"^{have}")


def test_push_through_memory_updates_the_ref_and_reports_ok(served, tmp_path):
    bare, work, env = served
    make_history(env, work, 1, start=100)
    local = ObjectStore(work / ".git")
    old, new = rev(env, bare, "main"), rev(env, work, "main")
    pack = pack_from_store(local, objects_to_send(local, [new], [old]))
    update = RefUpdate("refs/heads/main", "refs/heads/main", old, new)
    reply, _ = serve_receive_pack(bare, ObjectStore(bare), push_request(
        [update], ["report-status", "side-band-64k"], pack))
    assert parse_report(reply, sideband=True) == ("ok", {"refs/heads/main": None})
    assert rev(env, bare, "main") == new
    git(env, "fsck", "--strict", cwd=bare)


def test_atomic_push_refuses_every_ref_when_one_fails(served):
    bare, work, env = served
    old = rev(env, bare, "main")
    older = rev(env, bare, "main~1")
    updates = [RefUpdate("x", "refs/heads/copy", "0" * 40, older),
               RefUpdate("y", "refs/heads/main", old, older)]           # a rewind: non-fast-forward
    reply, _ = serve_receive_pack(bare, ObjectStore(bare), push_request(
        updates, ["report-status", "atomic"], pack_from_store(ObjectStore(bare), [])))
    unpack, results = parse_report(reply, sideband=False)
    assert unpack == "ok"
    assert results["refs/heads/main"] == "non-fast-forward"
    assert results["refs/heads/copy"].startswith("atomic push failed")
    assert git(env, "show-ref", "--verify", "-q", "refs/heads/copy", cwd=bare, check=False).returncode != 0


def push_new_commit_and_a_copy(bare, work, env, caps):
    """Push main -> a new commit and create refs/heads/copy at main~1 in one request."""
    make_history(env, work, 1, start=100)
    local = ObjectStore(work / ".git")
    old, older, new = rev(env, bare, "main"), rev(env, bare, "main~1"), rev(env, work, "main")
    updates = [RefUpdate("x", "refs/heads/copy", "0" * 40, older),
               RefUpdate("y", "refs/heads/main", old, new)]
    pack = pack_from_store(local, objects_to_send(local, [new], [old]))
    reply, _ = serve_receive_pack(bare, ObjectStore(bare), push_request(updates, caps, pack))
    return parse_report(reply, sideband=False)[1]


def test_atomic_push_moves_no_ref_when_one_cannot_be_locked(served):
    bare, work, env = served
    (bare / "refs" / "heads" / "main.lock").write_text("someone else\n")   # a push in progress
    before = repository_snapshot(bare)
    results = push_new_commit_and_a_copy(bare, work, env, ["report-status", "atomic"])
    assert "cannot lock ref 'refs/heads/main'" in results["refs/heads/main"]
    assert results["refs/heads/copy"].startswith("atomic push failed")
    assert repository_snapshot(bare) == before          # no ref, no lock, no object file added
    assert (bare / "refs" / "heads" / "main.lock").read_text() == "someone else\n"


def test_without_atomic_the_other_ref_moves_and_only_its_objects_are_stored(served):
    bare, work, env = served
    (bare / "refs" / "heads" / "main.lock").write_text("someone else\n")
    refs_before, objects_before = repository_snapshot(bare)
    results = push_new_commit_and_a_copy(bare, work, env, ["report-status"])
    assert results["refs/heads/copy"] is None and "cannot lock" in results["refs/heads/main"]
    refs_after, objects_after = repository_snapshot(bare)
    assert refs_after["refs/heads/copy"] == rev(env, bare, "main~1")
    assert objects_after == objects_before    # copy needed nothing new; main's commit was not kept


def test_ref_transaction_puts_refs_back_when_a_rename_fails(served, monkeypatch):
    bare, work, env = served
    git(env, "pack-refs", "--all", cwd=bare)                       # v1 now lives in packed-refs only
    main, older, tag = rev(env, bare, "main"), rev(env, bare, "main~1"), rev(env, bare, "v1")
    before = repository_snapshot(bare)
    transaction = RefTransaction(bare)
    transaction.prepare([("refs/tags/v1", tag, "0" * 40), ("refs/heads/new", "0" * 40, main),
                         ("refs/heads/main", main, older)])
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:                  # packed-refs and refs/heads/new done, main fails
            raise OSError(28, "No space left on device")
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        transaction.commit()
    monkeypatch.undo()
    assert repository_snapshot(bare) == before
    assert rev(env, bare, "v1") == tag and rev(env, bare, "main") == main
    git(env, "fsck", "--strict", cwd=bare)


def test_a_push_deletes_a_packed_tag_through_the_transaction(served):
    bare, work, env = served
    git(env, "pack-refs", "--all", cwd=bare)
    tag = rev(env, bare, "v1")
    reply, _ = serve_receive_pack(bare, ObjectStore(bare), push_request(
        [RefUpdate(None, "refs/tags/v1", tag, "0" * 40)], ["report-status", "delete-refs"], None))
    assert parse_report(reply, sideband=False) == ("ok", {"refs/tags/v1": None})
    assert "refs/tags/v1" not in (bare / "packed-refs").read_text()
    assert git(env, "show-ref", "--verify", "-q", "refs/tags/v1", cwd=bare, check=False).returncode != 0
    assert not list(bare.rglob("*.lock"))


@pytest.mark.parametrize(("existing", "pushed", "reason"), [
    ("refs/heads/main", "refs/heads/main/x", "a ref is in the way"),
    ("refs/heads/topic/y", "refs/heads/topic", "there are refs below it")])
def test_a_ref_where_a_directory_of_refs_is_refused_cleanly(served, existing, pushed, reason):
    bare, work, env = served
    main = rev(env, bare, "main")
    git(env, "update-ref", existing, main, cwd=bare)
    before = repository_snapshot(bare)
    reply, _ = serve_receive_pack(bare, ObjectStore(bare), push_request(
        [RefUpdate("x", pushed, "0" * 40, main)], ["report-status"], pack_from_store(ObjectStore(bare), [])))
    assert reason in parse_report(reply, sideband=False)[1][pushed]
    assert repository_snapshot(bare) == before


def test_credentials_come_from_the_url_or_else_the_environment(monkeypatch):
    from learn_git.network.transport_http import TransportError, split_credentials

    assert split_credentials("http://alice:s%40cret@127.0.0.1:9/r.git/") == (
        "http://127.0.0.1:9/r.git", ("alice", "s@cret"))
    monkeypatch.setenv("MINI_GIT_USERNAME", "bob")
    monkeypatch.setenv("MINI_GIT_PASSWORD", "pw")
    assert split_credentials("http://127.0.0.1:9/r.git")[1] == ("bob", "pw")
    with pytest.raises(TransportError, match="smart HTTP only"):
        split_credentials("ssh://host/r.git")
