"""Real git as the client of our smart HTTP server: clone, fetch, push, refusals, fsck."""

import base64
import gzip
import hashlib
import itertools
import re
import socket

import httpx
import pytest

from learn_git.network import pkt_line
from learn_git.network.pack_write import write_pack
from learn_git.network.smart_http_peers import (
    bare_repository,
    git,
    git_env,
    make_history,
    mini_git,
    repository_snapshot,
    start_our_server,
)
from learn_git.objects import hash_object
from tests.conftest import need_binary

pytestmark = pytest.mark.differential

AUTH = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
counter = itertools.count()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(root, port, env, process): one server for the module, a fresh repository per test."""
    need_binary("git", "git")
    base = tmp_path_factory.mktemp("served")
    env = git_env(base / "home")
    root = base / "root"
    root.mkdir()
    proc = start_our_server(root, env)
    try:
        yield root, proc.port, env, proc
    finally:
        proc.stop()


@pytest.fixture
def repo(served, tmp_path):
    """A bare repository on the server holding 3 commits on main, and the work tree they came from."""
    root, port, env, _ = served
    name = f"r{next(counter)}.git"
    bare = bare_repository(env, root / name)
    work = tmp_path / "origin-work"
    make_history(env, work, 3)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    return bare, f"http://127.0.0.1:{port}/{name}", work, env


def head(env, cwd, name="HEAD"):
    return git(env, "rev-parse", name, cwd=cwd).stdout.decode().strip()


@pytest.mark.parametrize("version", ["2", "1", "0"])     # v1 is v0 with a version line: we answer v0
def test_git_clones_over_protocol_v2_v1_and_v0(repo, tmp_path, version):
    bare, url, work, env = repo
    git(env, "-c", f"protocol.version={version}", "clone", "-q", url, str(tmp_path / "c"))
    assert head(env, tmp_path / "c") == head(env, work)
    assert (tmp_path / "c" / "dir0" / "file0.txt").read_text().startswith("commit 0")
    git(env, "fsck", "--strict", cwd=tmp_path / "c")


def test_git_clones_a_packed_repository_and_fsck_accepts_the_reused_deltas(repo, tmp_path):
    bare, url, work, env = repo
    make_history(env, work, 20, start=3, files_per_commit=4)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    git(env, "gc", "-q", "--aggressive", cwd=bare)
    git(env, "clone", "-q", url, str(tmp_path / "c"))
    assert head(env, tmp_path / "c") == head(env, work)
    git(env, "fsck", "--strict", cwd=tmp_path / "c")


def test_git_fetches_new_commits(repo, tmp_path):
    bare, url, work, env = repo
    git(env, "clone", "-q", url, str(tmp_path / "c"))
    make_history(env, work, 2, start=3)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    git(env, "fetch", "-q", cwd=tmp_path / "c")
    assert head(env, tmp_path / "c", "origin/main") == head(env, work)
    git(env, "fsck", "--strict", cwd=tmp_path / "c")


@pytest.mark.parametrize("version", ["2", "0"])
def test_git_fetch_follows_a_new_annotated_tag(repo, tmp_path, version):
    bare, url, work, env = repo
    git(env, "clone", "-q", url, str(tmp_path / "c"))
    make_history(env, work, 1, start=5)
    git(env, "tag", "-a", "v2", "-m", "release 2", cwd=work)
    git(env, "push", "-q", str(bare), "main", "v2", cwd=work)
    git(env, "-c", f"protocol.version={version}", "fetch", "-q", cwd=tmp_path / "c")
    assert head(env, tmp_path / "c", "v2") == head(env, work, "v2")
    git(env, "fsck", "--strict", cwd=tmp_path / "c")


def test_git_pushes_new_commits_and_a_new_branch(repo, tmp_path):
    bare, url, work, env = repo
    clone = tmp_path / "c"
    git(env, "clone", "-q", url.replace("http://", "http://alice:secret@"), str(clone))
    make_history(env, clone, 2, start=10)
    git(env, "push", "-q", "origin", "main", cwd=clone)
    git(env, "switch", "-q", "-c", "topic", cwd=clone)
    make_history(env, clone, 1, start=20)
    git(env, "push", "-q", "origin", "topic", cwd=clone)
    assert head(env, bare, "main") == head(env, clone, "main")
    assert head(env, bare, "topic") == head(env, clone, "topic")
    git(env, "fsck", "--strict", cwd=bare)
    git(env, "fsck", "--strict", cwd=clone)


def test_git_pushes_a_thin_pack_whose_deltas_use_objects_the_server_has(repo, served, tmp_path):
    bare, url, work, env = repo
    server = served[3]
    # Lines that do not compress well, so a whole-object push would be tens of kilobytes.
    big = "".join(f"{i} {hashlib.sha1(str(i).encode()).hexdigest()}\n" for i in range(3000))
    (work / "big.txt").write_text(big)
    git(env, "add", "big.txt", cwd=work)
    git(env, "commit", "-q", "-m", "big file", cwd=work)
    git(env, "push", "-q", str(bare), "main", cwd=work)
    clone = tmp_path / "c"
    git(env, "clone", "-q", url.replace("http://", "http://alice:secret@"), str(clone))
    (clone / "big.txt").write_text(big.replace("\n1500 ", "\nfifteen hundred "))
    git(env, "commit", "-q", "-am", "one line changed", cwd=clone)
    mark = server.line_count()
    git(env, "push", "-q", "origin", "main", cwd=clone)
    received = server.wait_line(r"git-receive-pack by alice \((\d+) bytes\)", start=mark)
    assert int(received.group(1)) < 5000, "git should have sent the change as a delta (a thin pack)"
    assert head(env, bare, "main") == head(env, clone, "main")
    git(env, "fsck", "--strict", cwd=bare)


def test_git_pushes_more_than_its_post_buffer_after_a_probe_and_chunked(repo, served, tmp_path):
    """Over ``http.postBuffer`` (1 MiB by default) git first POSTs a lone ``0000`` and sends the
    real body, chunked, only if that probe gets 200 (git http-backend answers 200, empty)."""
    bare, url, work, env = repo
    server = served[3]
    clone = tmp_path / "c"
    git(env, "clone", "-q", url.replace("http://", "http://alice:secret@"), str(clone))
    for number in range(3):   # 3 MiB that do not compress: the pack stays well over 1 MiB
        seed = hashlib.sha256(b"seed %d" % number).digest()
        data = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(32768))
        (clone / f"blob{number}.bin").write_bytes(data)
        git(env, "add", ".", cwd=clone)
        git(env, "commit", "-q", "-m", f"big {number}", cwd=clone)
    mark = server.line_count()
    pushed = git({**env, "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
                 "push", "origin", "main", cwd=clone, check=False)
    assert pushed.returncode == 0, pushed.stderr.decode(errors="replace")[-2000:]
    trace = pushed.stderr.decode(errors="replace")
    assert "Transfer-Encoding: chunked" in trace                  # git really streamed it
    server.wait_line(r"refs/heads/main: \w+ -> \w+ ok", start=mark)
    since = "\n".join(server.output().splitlines()[mark:])
    posts = re.findall(r"git-receive-pack by alice \((\d+) bytes\)", since)
    assert [int(size) for size in posts][:1] == [4]                # the probe: a lone flush
    assert len(posts) == 2 and int(posts[1]) > 3 * 1024 * 1024     # then the whole chunked body
    assert head(env, bare, "main") == head(env, clone, "main")
    assert git(env, "cat-file", "-s", "main:blob2.bin", cwd=bare).stdout.strip() == b"1048576"
    git(env, "fsck", "--strict", cwd=bare)
    git(env, "fsck", "--strict", cwd=clone)


def test_a_forced_non_fast_forward_push_is_rejected_by_the_server(repo, tmp_path):
    bare, url, work, env = repo
    clone = tmp_path / "c"
    git(env, "clone", "-q", url.replace("http://", "http://alice:secret@"), str(clone))
    before = head(env, bare, "main")
    git(env, "reset", "-q", "--hard", "HEAD~1", cwd=clone)
    make_history(env, clone, 1, start=30)
    plain = git(env, "push", "origin", "main", cwd=clone, check=False)
    assert plain.returncode != 0 and b"[rejected]" in plain.stderr          # git's own check
    snapshot = repository_snapshot(bare)
    forced = git(env, "push", "--force", "origin", "main", cwd=clone, check=False)
    assert forced.returncode != 0
    assert b"[remote rejected] main -> main (non-fast-forward)" in forced.stderr   # ours
    assert head(env, bare, "main") == before
    assert repository_snapshot(bare) == snapshot       # the refused commit was not stored at all
    git(env, "fsck", "--strict", cwd=bare)


def test_an_empty_repository_clones_with_its_branch_name_and_takes_a_first_push(served, tmp_path):
    root, port, env, _ = served
    bare_repository(env, root / "empty.git")
    git(env, "symbolic-ref", "HEAD", "refs/heads/trunk", cwd=root / "empty.git")
    url = f"http://alice:secret@127.0.0.1:{port}/empty.git"
    cloned = git(env, "clone", url, str(tmp_path / "g"))
    assert b"empty repository" in cloned.stderr
    assert (tmp_path / "g" / ".git" / "HEAD").read_text() == "ref: refs/heads/trunk\n"   # ls-refs unborn
    mini_git(env, "clone", url, str(tmp_path / "m"))
    assert (tmp_path / "m" / ".git" / "HEAD").read_text() == "ref: refs/heads/trunk\n"   # v0 symref
    make_history(env, tmp_path / "g", 2)
    git(env, "push", "-q", "origin", "HEAD:trunk", cwd=tmp_path / "g")
    git(env, "fsck", "--strict", cwd=root / "empty.git")
    git(env, "pull", "-q", "origin", "trunk", cwd=tmp_path / "m")
    assert head(env, tmp_path / "m") == head(env, tmp_path / "g")


def test_push_needs_credentials(repo, tmp_path):
    bare, url, work, env = repo
    response = httpx.get(f"{url}/info/refs", params={"service": "git-receive-pack"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    wrong = httpx.get(f"{url}/info/refs", params={"service": "git-receive-pack"},
                      auth=("alice", "wrong"))
    assert wrong.status_code == 401
    assert httpx.get(f"{url}/info/refs", params={"service": "git-upload-pack"}).status_code == 200
    clone = tmp_path / "c"
    git(env, "clone", "-q", url, str(clone))
    make_history(env, clone, 1, start=40)
    result = git(env, "push", "origin", "main", cwd=clone, check=False)
    assert result.returncode != 0


def post(url, service, body, **headers):
    return httpx.post(f"{url}/{service}", content=body,
                      headers={"Content-Type": f"application/x-{service}-request", **AUTH, **headers})


def test_malformed_pkt_lines_get_a_clear_400(repo):
    bare, url, work, env = repo
    before = repository_snapshot(bare)
    for body in (b"00zzwant", b"0003", b"0032want 123"):
        response = post(url, "git-upload-pack", body)
        assert response.status_code == 400 and "pkt-line" in response.text
        response = post(url, "git-receive-pack", body)
        assert response.status_code == 400
    assert repository_snapshot(bare) == before


def push_body(old, new, ref, pack):
    line = f"{old} {new} {ref}".encode() + b"\0report-status\n"
    return pkt_line.encode(line) + pkt_line.FLUSH + pack


def blob_commit_pack(env, work):
    """A valid pack holding one new commit on top of main: (commit id, pack)."""
    make_history(env, work, 1, start=50)
    objects = git(env, "rev-list", "--objects", "HEAD^!", cwd=work).stdout.decode().split()
    oids = [word for word in objects if len(word) == 40]
    items = []
    for oid in oids:
        kind = git(env, "cat-file", "-t", oid, cwd=work).stdout.decode().strip()
        items.append((oid, kind, git(env, "cat-file", kind, oid, cwd=work).stdout))
    return head(env, work), write_pack(items, len(items))[0]


@pytest.mark.parametrize("damage", ["checksum", "truncated", "truncated object"])
def test_a_damaged_pack_changes_nothing(repo, damage):
    bare, url, work, env = repo
    old = head(env, bare, "main")
    new, pack = blob_commit_pack(env, work)
    if damage == "checksum":
        pack = pack[:-1] + bytes([pack[-1] ^ 1])
    elif damage == "truncated":
        pack = pack[:len(pack) // 2]
    else:   # the last object's zlib stream cut short, under a trailer that matches
        body = pack[:-20][:-8]
        pack = body + hashlib.sha1(body).digest()
    before = repository_snapshot(bare)
    response = post(url, "git-receive-pack", push_body(old, new, "refs/heads/main", pack))
    assert response.status_code == 200
    report = [p.text() for p in pkt_line.decode_all(response.content) if isinstance(p, pkt_line.Data)]
    assert report[0].startswith("unpack ") and report[0] != "unpack ok"
    assert report[1] == "ng refs/heads/main unpacker error"
    assert repository_snapshot(bare) == before


@pytest.mark.parametrize("ref", ["refs/heads/a..b", "refs/heads/x.lock", "HEAD", "refs/heads/a~1"])
def test_a_forbidden_ref_name_is_refused_and_nothing_is_stored(repo, ref):
    bare, url, work, env = repo
    new, pack = blob_commit_pack(env, work)
    before = repository_snapshot(bare)
    response = post(url, "git-receive-pack", push_body("0" * 40, new, ref, pack))
    report = [p.text() for p in pkt_line.decode_all(response.content) if isinstance(p, pkt_line.Data)]
    assert report[0] == "unpack ok"
    assert report[1].startswith(f"ng {ref} ")
    assert repository_snapshot(bare) == before


def test_a_stale_old_value_is_refused(repo):
    bare, url, work, env = repo
    new, pack = blob_commit_pack(env, work)
    before = repository_snapshot(bare)
    response = post(url, "git-receive-pack", push_body("1" * 40, new, "refs/heads/main", pack))
    assert b"stale info" in response.content
    assert repository_snapshot(bare) == before


@pytest.mark.parametrize("path", ["/../r0.git/info/refs", "/%2e%2e/etc/info/refs",
                                  "/r0.git/..%2f..%2fx/info/refs", "/nope.git/info/refs", "/%2Fetc/info/refs",
                                  "/r0.git/../../x/info/refs"])
def test_paths_outside_the_root_are_refused(served, path):
    root, port, env, _ = served
    # A raw request: HTTP libraries would normalise the ".." away before sending it.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path}?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n".encode())
        response = sock.makefile("rb").read()
    assert response.split()[1] in (b"400", b"404")
    assert b"invalid repository path" in response or b"repository not found" in response


def test_gzip_and_chunked_request_bodies_are_accepted(repo):
    bare, url, work, env = repo
    want = head(env, bare, "main")
    body = pkt_line.encode(f"want {want} side-band-64k") + pkt_line.FLUSH + pkt_line.encode("done")
    zipped = post(url, "git-upload-pack", gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert zipped.status_code == 200 and b"PACK" in zipped.content

    def chunks():
        yield body[:7]
        yield body[7:]
    chunked = httpx.post(f"{url}/git-upload-pack", content=chunks(),
                         headers={"Content-Type": "application/x-git-upload-pack-request"})
    assert chunked.status_code == 200 and chunked.content == zipped.content


def test_a_want_that_was_not_advertised_gets_err(repo):
    bare, url, work, env = repo
    unknown = hash_object("blob", b"nothing")
    body = pkt_line.encode(f"want {unknown}") + pkt_line.FLUSH + pkt_line.encode("done")
    response = post(url, "git-upload-pack", body)
    assert b"ERR upload-pack: not our ref" in response.content
