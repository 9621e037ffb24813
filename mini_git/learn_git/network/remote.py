"""The client side of fetch, clone and pull (protocol v0 over smart HTTP).

Reading order: after ``transport_http.py``; ``remote_push.py`` follows.
Spec: gitprotocol-pack "Packfile Negotiation" (the client's half),
gitprotocol-http "Smart Service git-upload-pack"; git-fetch(1) for refspecs.

A fetch is three steps:

1. **discover**: GET the advertisement; every remote branch we lack becomes a
   *want* (``refs/heads/X`` will land in ``refs/remotes/origin/X``);
2. **negotiate**: POST our recent commits as *haves* and a flush; the server
   ACKs those it has too.  Then POST the wants, the common haves and ``done``;
   (git walks history in rounds of growing size; we send at most
   ``MAX_HAVES`` recent commits in one round, which is enough when the two
   sides share recent history, and only costs pack size when they do not);
3. **receive**: the pack arrives on side-band 1; ``pack_stream`` verifies it
   and resolves deltas (thin packs included); we check that every want is now
   complete, write the pack, and only then move the remote-tracking refs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from wirelab_common.wiretrace import Trace

from ..errors import GitError
from ..objects import parse_commit
from ..porcelain import load_index, save_index, tree_map_of_commit
from ..refs import ANY, list_refs, read_head, read_ref, set_head_symbolic, update_ref
from ..repo import Repository
from ..switching import switch_trees
from . import pkt_line
from .pack_stream import OverlayStore, receive_pack_bytes, store_received
from .pkt_line import Data, PktLineError
from .smart_http import UPLOAD_PACK
from .transport_http import SERVER, HttpTransport, TransportError
from .walk import ancestors, is_ancestor, missing_objects

Receive = Callable[[Repository, HttpTransport, list[str], list[str], Trace], int]
MAX_HAVES = 256
WANTED_CAPS = ("multi_ack_detailed", "side-band-64k", "ofs-delta", "thin-pack", "no-progress")


@dataclass
class FetchResult:
    """What a fetch changed: (local ref, old oid or None, new oid), and the pack it took."""

    updated: list[tuple[str, str | None, str]] = field(default_factory=list)
    objects: int = 0
    head_target: str | None = None
    remote_refs: dict[str, str] = field(default_factory=dict)


# -- the pure part: request bodies and response parsing ------------------------------------------

def want_request(wants: list[str], haves: list[str], caps: list[str], done: bool) -> bytes:
    """wants (capabilities on the first), a flush, haves, then ``done`` or a flush."""
    lines = [f"want {wants[0]} {' '.join(caps)}".rstrip(), *(f"want {oid}" for oid in wants[1:])]
    body = pkt_line.encode_all(lines) + b"".join(pkt_line.encode(f"have {oid}") for oid in haves)
    return body + (pkt_line.encode("done") if done else pkt_line.FLUSH)


def parse_upload_result(body: bytes) -> tuple[list[str], bytes | None, list[str]]:
    """(ACK/NAK lines, the pack or None, progress messages) of an upload-pack response."""
    acks: list[str] = []
    pos = 0
    while pos < len(body):
        if body[pos:pos + 4] == b"PACK":          # no side-band: the raw pack follows
            return acks, body[pos:], []
        length = pkt_line.parse_length(body[pos:pos + 4])
        if length == 0:
            pos += 4
            continue
        payload = body[pos + 4:pos + length]
        if payload[:1] in (b"\x01", b"\x02", b"\x03"):
            band = pkt_line.demux_sideband(pkt_line.decode_all(body[pos:]))
            if band.error:
                raise TransportError(f"remote error: {band.error}")
            return acks, band.data, band.progress
        text = Data(payload).text()
        if text.startswith("ERR "):
            raise TransportError(f"remote error: {text[4:]}")
        if not (text.startswith("ACK ") or text == "NAK"):
            raise PktLineError(f"unexpected line in upload-pack response: {text[:60]!r}")
        acks.append(text)
        pos += length
    return acks, None, []


def recent_commits(repo: Repository, limit: int = MAX_HAVES) -> list[str]:
    """Our commits to offer as haves: ref tips first, then their ancestors, newest first."""
    tips = [oid for oid in dict.fromkeys(list_refs(repo.git_dir).values()) if repo.odb.contains(oid)]
    commits = []
    for oid in ancestors(repo.odb, tips, skip_missing=True):
        committer = parse_commit(repo.odb.read_kind(oid, "commit")).committer
        commits.append((int(committer.rsplit(" ", 2)[-2]), oid))
    ordered = [oid for oid in tips if oid in {c for _, c in commits}]
    ordered += [oid for _, oid in sorted(commits, reverse=True)]
    return list(dict.fromkeys(ordered))[:limit]


# -- the driver: fetch, clone, pull -----------------------------------------------------------------

def fetch(repo: Repository, remote: str, trace: Trace, url: str | None = None,
          peer: str = SERVER, receive: Receive | None = None) -> FetchResult:
    """Bring ``remote``'s branches and tags into ``refs/remotes/<remote>/`` and ``refs/tags/``.

    ``peer``: the server's name in the trace events (``transport_http.HttpTransport``).
    ``receive``: what gets and stores the pack, :func:`receive_objects` unless the fast
    clone (``clone_fast.py``) passes its own.
    """
    url = url or repo.config.get(f"remote.{remote}.url")
    if url is None:
        raise GitError(f"no URL for remote {remote!r} (git remote add {remote} <url>)")
    result = FetchResult()
    with HttpTransport(url, trace, peer=peer) as transport:
        advert = transport.advertisement(UPLOAD_PACK)
        result.head_target, result.remote_refs = advert.head_target, advert.refs
        mapping = {}
        for name, oid in advert.refs.items():
            if name.startswith("refs/heads/"):
                mapping[f"refs/remotes/{remote}/{name.removeprefix('refs/heads/')}"] = oid
            elif name.startswith("refs/tags/") and read_ref(repo.git_dir, name) is None:
                mapping[name] = oid
        wants = [oid for oid in dict.fromkeys(mapping.values()) if not repo.odb.contains(oid)]
        if wants:
            result.objects = (receive or receive_objects)(repo, transport, advert.caps, wants, trace)
    for name, new in mapping.items():
        old = read_ref(repo.git_dir, name)
        if old != new:
            update_ref(repo.git_dir, name, new, expected_old=ANY)   # "+" refspec: may be forced
            result.updated.append((name, old, new))
            trace.state(f"{name}: {(old or '(new)')[:7]} -> {new[:7]}")
    return result


def receive_objects(repo: Repository, transport: HttpTransport, server_caps: list[str],
                    wants: list[str], trace: Trace) -> int:
    """Negotiate, receive and store the pack for ``wants``; returns the number of objects."""
    return store_pack_bytes(repo, request_pack(repo, transport, server_caps, wants, trace), wants, trace)


def request_pack(repo: Repository, transport: HttpTransport, server_caps: list[str],
                 wants: list[str], trace: Trace) -> bytes:
    """Negotiate (haves, ACKs), then ask for ``wants`` with ``done``: the pack the server sends."""
    caps = [cap for cap in WANTED_CAPS if cap in server_caps] + ["agent=mini_git/0.1"]
    if "side-band-64k" not in caps:
        raise TransportError("server does not offer side-band-64k; mini_git needs it")
    candidates = recent_commits(repo)
    common: list[str] = []
    if candidates:
        reply = transport.rpc(UPLOAD_PACK, want_request(wants, candidates, caps, done=False))
        acks, _, _ = parse_upload_result(reply)
        common = [line.split()[1] for line in acks if line.startswith("ACK ")]
        trace.state(f"negotiation: {len(common)} of {len(candidates)} haves are common")
    reply = transport.rpc(UPLOAD_PACK, want_request(wants, common, caps, done=True))
    acks, pack, progress = parse_upload_result(reply)
    for line in progress:
        trace.note(f"remote: {line}")
    if pack is None:
        raise TransportError("server ended the response without a pack")
    return pack


def store_pack_bytes(repo: Repository, pack: bytes, wants: list[str], trace: Trace) -> int:
    """Verify and resolve ``pack``, check that every want is complete, then store it."""
    received = receive_pack_bytes(pack, repo.odb.read)
    missing = missing_objects(OverlayStore(repo.odb, received), received.objects, wants)
    if missing:
        raise TransportError(f"pack is incomplete: {len(missing)} objects missing, e.g. {missing[0]}")
    trace.state(f"pack verified: {len(received)} objects ({received.deltas} deltas, "
                f"{len(received.thin_bases)} thin bases)")
    store_received(repo.git_dir, received)
    repo.odb.rescan()
    return len(received)


def default_directory(url: str) -> str:
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix(".git") or "repo"


def clone(url: str, directory: str | None, trace: Trace, checkout: bool = True,
          peer: str = SERVER, receive: Receive | None = None,
          checkout_files: Callable[[Repository, str | None, str], None] | None = None) -> Repository:
    """``git clone``: a new repository, origin configured, the remote HEAD checked out
    (``checkout=False``: ``git clone --no-checkout``, HEAD set but no index or files).

    ``receive`` and ``checkout_files`` default to :func:`receive_objects` and
    :func:`update_worktree`; ``clone_fast.py`` passes faster ones.
    """
    target = Path(directory or default_directory(url))
    if target.exists() and any(target.iterdir()):
        raise GitError(f"destination path '{target}' already exists and is not an empty directory")
    created = not target.exists()
    repo = Repository.init(target)
    try:
        repo.config.set("remote.origin.url", url)
        repo.config.set("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
        result = fetch(repo, "origin", trace, peer=peer, receive=receive)
        branches = [name for name in result.remote_refs if name.startswith("refs/heads/")]
        branch_ref = result.head_target or (branches[0] if branches else None)
        if branch_ref is None or branch_ref not in result.remote_refs:
            if branch_ref is not None:   # an unborn branch: ours will be born under the same name
                set_head_symbolic(repo.git_dir, branch_ref)
            trace.note("warning: you appear to have cloned an empty repository")
            return repo
        branch = branch_ref.removeprefix("refs/heads/")
        oid = result.remote_refs[branch_ref]
        update_ref(repo.git_dir, branch_ref, oid, expected_old=None)
        set_head_symbolic(repo.git_dir, branch_ref)
        repo.config.set(f"branch.{branch}.remote", "origin")
        repo.config.set(f"branch.{branch}.merge", branch_ref)
        if not checkout:
            trace.state(f"HEAD is {branch} at {oid[:7]}; nothing checked out (--no-checkout)")
            return repo
        (checkout_files or update_worktree)(repo, None, oid)
        trace.state(f"checked out {branch} at {oid[:7]} in {target}")
        return repo
    except BaseException:
        # Like git: a failed clone leaves nothing behind.
        shutil.rmtree(target if created else target / ".git", ignore_errors=True)
        raise


def pull(repo: Repository, remote: str, trace: Trace) -> str:
    """fetch, then fast-forward the current branch to its upstream (no merges: ff-only)."""
    head = read_head(repo.git_dir)
    if head.ref is None:
        raise GitError("HEAD is detached: pull needs a branch")
    fetch(repo, remote, trace)
    branch = head.ref.removeprefix("refs/heads/")
    upstream = read_ref(repo.git_dir, f"refs/remotes/{remote}/{branch}")
    if upstream is None:
        raise GitError(f"the remote has no branch {branch}")
    if head.oid == upstream or (head.oid and is_ancestor(repo.odb, upstream, head.oid)):
        return "Already up to date."
    if head.oid is not None and not is_ancestor(repo.odb, head.oid, upstream):
        raise GitError("Not possible to fast-forward, aborting. (pull is --ff-only in mini_git)")
    update_worktree(repo, head.oid, upstream)
    update_ref(repo.git_dir, head.ref, upstream, expected_old=head.oid)
    return f"Fast-forward {(head.oid or '0000000')[:7]}..{upstream[:7]}"


def update_worktree(repo: Repository, old_commit: str | None, new_commit: str) -> None:
    """Move the work tree and index from one commit's tree to another's with part 1's checkout.

    ``switching.switch_trees`` touches only the paths that differ and refuses
    (``LocalChanges``) when one of them holds uncommitted work, as ``git pull``
    does.  Submodule entries are left out: mini_git does not fetch submodules.
    """
    def files(commit: str | None) -> dict:
        return {path: entry for path, entry in tree_map_of_commit(repo, commit).items()
                if entry[0] != 0o160000}
    entries = switch_trees(repo, load_index(repo), files(old_commit), files(new_commit))
    save_index(repo, entries)
