"""upload-pack, the server side of fetch and clone (protocol v0/v1 over stateless HTTP).

Reading order: after ``smart_http.py``.  ``http_server.py`` hands it the body of
``POST /<repo>/git-upload-pack`` and sends back what it returns.
Spec: gitprotocol-pack "Packfile Negotiation" and "Packfile Data";
gitprotocol-http "Smart Service git-upload-pack"; gitprotocol-capabilities
"multi_ack_detailed", "side-band-64k".

Over HTTP every request is self-contained ("stateless RPC"): the client repeats
its wants, and the haves it already knows are common, in each POST::

    C: 0032want <oid> multi_ack_detailed side-band-64k ...\\n   (capabilities on the first want)
    C: 0000
    C: 0032have <oid>\\n  ...
    C: 0009done\\n        (or a flush: "tell me which of these you have")

    S: ACK <oid> common\\n   for each have we also have (multi_ack_detailed)
    S: NAK\\n                after a flush: "keep going"
    S: ACK <oid>\\n or NAK\\n after done, then the pack on side-band 1, progress on 2

This module reads the request, decides the answer and builds the pack; it does
no network I/O (the object store is its only outside world).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import GitError
from ..refs import list_refs, read_head
from . import pack_reuse, pack_write_ofs, pkt_line, walk_fast
from .pack_write import pack_from_store
from .pkt_line import Data, Flush
from .smart_http import UPLOAD_PACK_CAPS, is_oid
from .walk import objects_to_send, peel


class UploadPackError(GitError):
    """The client's request breaks the protocol (answered with ``ERR``)."""


@dataclass
class UploadRequest:
    """One POST of the negotiation, decoded."""

    wants: list[str] = field(default_factory=list)
    haves: list[str] = field(default_factory=list)
    caps: list[str] = field(default_factory=list)
    done: bool = False


def advertised_refs(git_dir, odb) -> list[tuple[str, str]]:
    """(oid, name) pairs in advertisement order: HEAD, the refs, peeled tags after their tag."""
    refs = list_refs(git_dir)
    lines: list[tuple[str, str]] = []
    head = read_head(git_dir)
    if head.oid is not None:
        lines.append((head.oid, "HEAD"))
    for name, oid in refs.items():
        lines.append((oid, name))
        if name.startswith("refs/tags/"):
            target, chain = peel(odb, oid)
            if chain:
                lines.append((target, name + "^{}"))
    return lines


def capabilities(git_dir) -> list[str]:
    """Our upload-pack capabilities, with ``symref`` so a clone checks out the right branch."""
    head = read_head(git_dir)
    caps = list(UPLOAD_PACK_CAPS)
    if head.ref is not None:
        caps.insert(-1, f"symref=HEAD:{head.ref}")
    return caps


def parse_request(body: bytes) -> UploadRequest:
    """Decode a request body: want lines, a flush, have lines, then flush or ``done``."""
    request = UploadRequest()
    for packet in pkt_line.decode_all(body):
        if isinstance(packet, Flush):
            continue
        if not isinstance(packet, Data):
            raise UploadPackError(f"unexpected {type(packet).__name__} in an upload-pack request")
        line = packet.payload.rstrip(b"\n")
        word, _, rest = line.partition(b" ")
        if word == b"want":
            oid, _, caps = rest.partition(b" ")
            if not request.wants:
                request.caps = caps.decode().split()
            request.wants.append(_oid(oid))
        elif word == b"have":
            request.haves.append(_oid(rest))
        elif line == b"done":
            request.done = True
        elif word in (b"shallow", b"deepen", b"deepen-since", b"deepen-not", b"filter"):
            raise UploadPackError(f"{word.decode()} is not supported by this server (not advertised)")
        else:
            raise UploadPackError(f"unexpected line in upload-pack request: {line[:60]!r}")
    if not request.wants:
        raise UploadPackError("upload-pack request has no want line")
    return request


def _oid(raw: bytes) -> str:
    text = raw.decode("ascii", "replace")
    if not is_oid(text):
        raise UploadPackError(f"not an object id: {text[:60]!r}")
    return text


def negotiate(request: UploadRequest, odb) -> tuple[list[bytes], list[str]]:
    """The ACK/NAK lines for this round, and the haves we share (empty when nothing is common)."""
    detailed = "multi_ack_detailed" in request.caps
    common = [have for have in request.haves if odb.contains(have)]
    lines = []
    if detailed:
        lines += [f"ACK {oid} common\n".encode() for oid in common]
    elif common and not request.done:
        lines.append(f"ACK {common[0]}\n".encode())   # simple mode: one ACK, for the first
    if not request.done:
        if detailed or not common:
            lines.append(b"NAK\n")
        return lines, common
    if common and detailed:
        lines.append(f"ACK {common[-1]}\n".encode())
    elif not common:
        lines.append(b"NAK\n")
    return lines, common


def include_tags(git_dir, odb, oids: list[str]) -> list[str]:
    """``include-tag``: annotated tags whose target is being sent ride along (no extra round)."""
    sending = set(oids)
    extra = []
    for oid in list_refs(git_dir, "refs/tags/").values():
        if oid in sending:
            continue
        target, chain = peel(odb, oid)
        if chain and target in sending:
            extra.extend(tag for tag in chain if tag not in sending)
    return list(dict.fromkeys(extra))


def pack_for(git_dir, odb, wants: list[str], common: list[str], ofs_delta: bool,
             include_tag: bool) -> tuple[int, bytes]:
    """(object count, pack) of what ``wants`` reach and ``common`` does not: the answer to ``done``."""
    # A clone asking for exactly the objects of the store's one pack gets that pack as it is,
    # once a walk has shown it is exactly that (pack_reuse.py, as git's pack reuse).
    tags = tuple(sorted(list_refs(git_dir, "refs/tags/").items())) if include_tag else None
    key = pack_reuse.request_key(odb, wants, common, ofs_delta, tags)
    reused = pack_reuse.stored_pack(odb, key)
    if reused is not None:
        return reused
    oids = objects_to_send(odb, wants, common, walk_fast.tree_objects)  # walk_fast.py: same list
    if include_tag:
        oids += include_tags(git_dir, odb, oids)
    pack_reuse.remember(odb, key, oids)
    # ofs-delta asked for: reused deltas name their base by distance (pack_write_ofs.py)
    return len(oids), (pack_write_ofs.pack_from_store if ofs_delta else pack_from_store)(odb, oids)


def serve_upload_pack(git_dir, odb, body: bytes, progress_every: bool = True) -> tuple[bytes, dict]:
    """The whole response body for one POST, and numbers for the trace."""
    request = parse_request(body)
    allowed = {oid for oid, _ in advertised_refs(git_dir, odb)}
    for want in request.wants:
        if want not in allowed:
            # Only advertised tips may be asked for: anything else may be unreachable on purpose.
            return pkt_line.encode(f"ERR upload-pack: not our ref {want}"), {"error": "not our ref"}
    lines, common = negotiate(request, odb)
    out = bytearray(b"".join(pkt_line.encode(line) for line in lines))
    stats = {"wants": len(request.wants), "haves": len(request.haves), "common": len(common),
             "done": request.done, "objects": 0, "pack_bytes": 0}
    if not request.done:
        return bytes(out), stats
    count, pack = pack_for(git_dir, odb, request.wants, common,
                           "ofs-delta" in request.caps, "include-tag" in request.caps)
    stats.update(objects=count, pack_bytes=len(pack))
    if "side-band-64k" in request.caps:
        if "no-progress" not in request.caps and progress_every:
            note = f"mini_git: sending {count} objects, {len(pack)} bytes\n"
            out += pkt_line.encode_sideband(2, note.encode())
        out += pkt_line.encode_sideband(1, pack)
        out += pkt_line.FLUSH
    else:
        out += pack   # no side-band: the raw pack follows the last ACK/NAK
    return bytes(out), stats
