"""The client side of push (protocol v0 over smart HTTP).

Reading order: after ``remote.py``.  Spec: gitprotocol-pack "Pushing Data To a
Server", "Report Status"; git-push(1) for refspecs and the fast-forward rule.

A push is one advertisement and one POST:

1. GET ``info/refs?service=git-receive-pack`` (this is where the server asks
   for credentials) to learn where the remote refs are now;
2. for each refspec ``src:dst`` decide the command ``<old> <new> <dst>``, where
   ``old`` is what the server advertised; refuse locally when ``old`` is not an
   ancestor of ``new`` (a non-fast-forward), unless ``--force``, in which case
   the *server* decides (ours always refuses);
3. POST the commands, a flush, and a pack of what the server lacks (objects
   reachable from the new tips minus those reachable from what it advertised);
4. read ``report-status``: ``unpack ok`` and ``ok``/``ng <ref> <reason>`` per ref.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirelab_common.wiretrace import Trace

from ..errors import GitError
from ..refs import ANY, list_refs, read_head, read_ref, update_ref
from ..repo import Repository
from . import pkt_line
from .pack_write import pack_from_store
from .pkt_line import Data
from .smart_http import RECEIVE_PACK, ZERO_OID, conversation_id
from .transport_http import SERVER, HttpTransport, TransportError
from .walk import is_ancestor, objects_to_send

WANTED_CAPS = ("report-status", "side-band-64k", "ofs-delta")


@dataclass
class RefUpdate:
    """One ref of a push and its fate: ``status`` is "ok", "rejected" (by us) or "remote rejected"."""

    src: str | None
    dst: str
    old: str
    new: str
    status: str = "pending"
    reason: str = ""

    def describe(self) -> str:
        """One line in the style of git push's summary."""
        src, dst = short(self.src or ""), short(self.dst)
        if self.status == "ok":
            if self.old == ZERO_OID:
                return f" * [new branch]      {src} -> {dst}"
            if self.new == ZERO_OID:
                return f" - [deleted]         {dst}"
            return f"   {self.old[:7]}..{self.new[:7]}  {src} -> {dst}"
        if self.status == "up to date":
            return f" = [up to date]      {src} -> {dst}"
        mark = "[rejected]" if self.status == "rejected" else "[remote rejected]"
        return f" ! {mark:<17} {src} -> {dst} ({self.reason})"


def short(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


def expand(repo: Repository, refspec: str | None) -> tuple[str | None, str]:
    """``main`` -> (refs/heads/main, refs/heads/main); ``a:b``; ``:b`` deletes b."""
    if refspec is None:
        head = read_head(repo.git_dir)
        if head.ref is None:
            raise GitError("HEAD is detached: say what to push (push origin <branch>)")
        return head.ref, head.ref
    src, sep, dst = refspec.lstrip("+").partition(":")
    dst = dst if sep else src

    def full(name: str) -> str:
        if name.startswith("refs/"):
            return name
        if read_ref(repo.git_dir, f"refs/tags/{name}") and not read_ref(repo.git_dir, f"refs/heads/{name}"):
            return f"refs/tags/{name}"
        return f"refs/heads/{name}"
    return (full(src) if src else None), full(dst)


def push_request(updates: list[RefUpdate], caps: list[str], pack: bytes | None) -> bytes:
    """Commands (capabilities after a NUL on the first), a flush, then the pack."""
    lines = []
    for i, update in enumerate(updates):
        line = f"{update.old} {update.new} {update.dst}".encode()
        lines.append(line + (b"\0" + " ".join(caps).encode() if i == 0 else b"") + b"\n")
    return pkt_line.encode_all(lines) + (pack or b"")


def parse_report(body: bytes, sideband: bool) -> tuple[str, dict[str, str | None]]:
    """(unpack status, ref -> None if ok else the reason) from a report-status response."""
    packets = pkt_line.decode_all(body)
    if sideband:
        band = pkt_line.demux_sideband(packets)
        if band.error:
            raise TransportError(f"remote error: {band.error}")
        packets = pkt_line.decode_all(band.data)
    lines = [packet.text() for packet in packets if isinstance(packet, Data)]
    if not lines or not lines[0].startswith("unpack "):
        raise TransportError(f"no report-status in the push response ({lines[:1]})")
    results: dict[str, str | None] = {}
    for line in lines[1:]:
        word, _, rest = line.partition(" ")
        ref, _, reason = rest.partition(" ")
        results[ref] = None if word == "ok" else reason or "rejected"
    return lines[0].removeprefix("unpack "), results


def push(repo: Repository, remote: str, refspecs: list[str], trace: Trace, force: bool = False,
         url: str | None = None, atomic: bool = False, peer: str = SERVER) -> list[RefUpdate]:
    """Push ``refspecs`` (the current branch when empty); returns each ref's outcome.

    ``atomic`` (``git push --atomic``): every ref moves or none does; a ref we
    refuse ourselves stops the whole push, and the server is asked for its
    ``atomic`` capability so that it refuses all refs if it refuses one.
    ``peer``: the server's name in the trace events (``transport_http.HttpTransport``).
    """
    named = repo.config.get(f"remote.{remote}.url")
    url = url or named or remote    # a URL may stand where a remote name goes
    with HttpTransport(url, trace, peer=peer) as transport:
        advert = transport.advertisement(RECEIVE_PACK)
        if atomic and not advert.has("atomic"):
            raise GitError("the receiving end does not support --atomic push")
        updates = []
        for spec in refspecs or [None]:
            src, dst = expand(repo, spec)
            new = ZERO_OID if src is None else read_ref(repo.git_dir, src)
            if new is None:
                raise GitError(f"src refspec {src} does not match any ref")
            updates.append(RefUpdate(src, dst, advert.refs.get(dst, ZERO_OID), new))
        for update in updates:
            if update.old == update.new:
                update.status = "up to date"
            elif update.old != ZERO_OID and update.new != ZERO_OID and not force and not (
                    repo.odb.contains(update.old) and is_ancestor(repo.odb, update.old, update.new)):
                update.status, update.reason = "rejected", (
                    "non-fast-forward" if repo.odb.contains(update.old) else "fetch first")
        if atomic and any(u.status == "rejected" for u in updates):
            for update in updates:
                if update.status == "pending":
                    update.status, update.reason = "rejected", "atomic push failed"
        sending = [u for u in updates if u.status == "pending"]
        if sending:
            caps = [cap for cap in WANTED_CAPS if cap in advert.caps] + (["atomic"] if atomic else [])
            caps.append("agent=mini_git/0.1")
            tips = [u.new for u in sending if u.new != ZERO_OID]
            pack = None
            if tips:
                # What the server advertised, plus what we last saw of it: both are "theirs".
                known = [*advert.refs.values(), *list_refs(repo.git_dir, f"refs/remotes/{remote}/").values()]
                haves = [oid for oid in dict.fromkeys(known) if repo.odb.contains(oid)]
                oids = objects_to_send(repo.odb, tips, haves)
                pack = pack_from_store(repo.odb, oids)
                trace.state(f"sending a pack of {len(oids)} objects ({len(pack)} bytes)")
            request = push_request(sending, caps, pack)
            reply = transport.rpc(RECEIVE_PACK, request)
            unpack, results = parse_report(reply, "side-band-64k" in caps)
            trace.received(f"report-status: unpack {unpack}",
                           [f"{'ok' if why is None else 'ng'} {ref} {why or ''}".strip()
                            for ref, why in results.items()], peer=peer, cid=conversation_id(request))
            for update in sending:
                reason = results.get(update.dst, "no status reported")
                if unpack != "ok":
                    reason = f"unpack {unpack}"
                update.status, update.reason = ("ok", "") if reason is None else ("remote rejected", reason)
    for update in updates:
        trace.state(update.describe().strip())
        if update.status == "ok" and update.dst.startswith("refs/heads/"):
            tracking = f"refs/remotes/{remote}/{update.dst.removeprefix('refs/heads/')}"
            if update.new != ZERO_OID and named is not None:
                update_ref(repo.git_dir, tracking, update.new, expected_old=ANY)
    return updates
