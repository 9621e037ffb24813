"""upload-pack in protocol v2: ``ls-refs`` and ``fetch`` commands.

Reading order: after ``upload_pack.py`` (v0), which it reuses.  Spec:
gitprotocol-v2 "HTTP Transport", "Capability Advertisement", "ls-refs",
"fetch".  git 2.26+ asks for v2 by sending ``Git-Protocol: version=2``; a
server that ignores the header simply answers in v0 and the client follows.

v2 splits v0's single conversation into commands.  The advertisement lists
capabilities only (no refs)::

    000eversion 2\\n  0013agent=mini_git\\n  000cls-refs\\n  000afetch\\n  0000

and every POST names one command, its capabilities, a delimiter, and its
arguments::

    0014command=ls-refs\\n  0001  0009peel\\n  000csymrefs\\n  0014ref-prefix HEAD\\n  0000
    0012command=fetch\\n    0001  0032want <oid>\\n ... 0009done\\n  0000

A fetch response is in sections: ``acknowledgments`` (while negotiating) or
``packfile`` (once the client said ``done``), the pack on side-band 1.
"""

from __future__ import annotations

from ..refs import list_refs, read_head
from . import pkt_line
from .pkt_line import Data, Delim, Flush
from .smart_http import AGENT
from .upload_pack import (
    UploadPackError,
    UploadRequest,
    advertised_refs,
    negotiate,
    pack_for,
    parse_request,
)
from .walk import peel

CAPABILITIES = ["version 2", AGENT, "ls-refs=unborn", "fetch", "object-format=sha1"]


def advertisement() -> bytes:
    """The v2 capability advertisement (no ``# service=`` line in v2, as git http-backend does)."""
    return pkt_line.encode_all(CAPABILITIES)


def parse_command(body: bytes) -> tuple[str, list[str], list[bytes]]:
    """(command, capability lines, argument lines) of one v2 request."""
    packets = pkt_line.decode_all(body)
    if not packets or not isinstance(packets[0], Data) or not packets[0].payload.startswith(b"command="):
        raise UploadPackError("a v2 request must start with command=<name>")
    command = packets[0].text().removeprefix("command=")
    caps, args = [], []
    section = caps
    for packet in packets[1:]:
        if isinstance(packet, Delim):
            section = args
        elif isinstance(packet, Flush):
            break
        elif isinstance(packet, Data):
            section.append(packet.payload.rstrip(b"\n") if section is args else packet.text())
    return command, caps, args


def ls_refs(git_dir, odb, args: list[bytes]) -> bytes:
    """One line per ref matching a ``ref-prefix`` (all when none), with symref and peel attributes."""
    prefixes = [a[len(b"ref-prefix "):].decode() for a in args if a.startswith(b"ref-prefix ")]
    peel_tags, symrefs = b"peel" in args, b"symrefs" in args
    refs = list(list_refs(git_dir).items())
    head = read_head(git_dir)
    lines = []
    if head.oid is not None:
        refs.insert(0, ("HEAD", head.oid))
    elif b"unborn" in args and head.ref is not None and (not prefixes or "HEAD" in prefixes):
        # An empty repository still says which branch HEAD will be, so a clone names it alike.
        lines.append(f"unborn HEAD symref-target:{head.ref}")
    for name, oid in refs:
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        line = f"{oid} {name}"
        if symrefs and name == "HEAD" and head.ref is not None:
            line += f" symref-target:{head.ref}"
        if peel_tags and name.startswith("refs/tags/"):
            target, chain = peel(odb, oid)
            if chain:
                line += f" peeled:{target}"
        lines.append(line)
    return pkt_line.encode_all(lines)


def fetch(git_dir, odb, args: list[bytes]) -> tuple[bytes, dict]:
    """Negotiate (``acknowledgments``) or, after ``done``, send the ``packfile`` section."""
    # The argument lines are v0's want/have/done lines without capabilities: reuse the v0 parser.
    plain = [a for a in args if a.split(b" ")[0] in (b"want", b"have", b"done")]
    unknown = [a for a in args if a not in plain and a not in (b"thin-pack", b"no-progress", b"ofs-delta",
                                                              b"include-tag")]
    if unknown:
        raise UploadPackError(f"unsupported fetch argument {unknown[0][:40]!r}")
    request: UploadRequest = parse_request(pkt_line.encode_all(plain))
    request.caps = ["multi_ack_detailed"]
    known = {oid for oid, _ in advertised_refs(git_dir, odb)}
    for want in request.wants:
        # The spec lets a v2 server accept any object; like git's default we serve ref tips
        # only, so an object that no ref reaches (a deleted secret) cannot be fetched by id.
        if want not in known:
            raise UploadPackError(f"not our ref {want}")
    _, common = negotiate(request, odb)
    stats = {"protocol": 2, "wants": len(request.wants), "haves": len(request.haves),
             "common": len(common), "done": request.done, "objects": 0, "pack_bytes": 0}
    if not request.done:
        acks = [f"ACK {oid}" for oid in common] or ["NAK"]   # v2 ACKs carry no status word
        return pkt_line.encode_all(["acknowledgments", *acks]), stats
    # The walk and the pack, as in v0 (upload_pack.pack_for): OFS_DELTA when the client asked
    # for ofs-delta (git always does), a clone of exactly the stored pack gets that pack.
    count, pack = pack_for(git_dir, odb, request.wants, common, b"ofs-delta" in args, b"include-tag" in args)
    stats.update(objects=count, pack_bytes=len(pack))
    out = pkt_line.encode("packfile")
    if b"no-progress" not in args:
        out += pkt_line.encode_sideband(2, f"mini_git: sending {count} objects\n".encode())
    return out + pkt_line.encode_sideband(1, pack) + pkt_line.FLUSH, stats


def serve(git_dir, odb, body: bytes) -> tuple[bytes, dict]:
    """The response to one v2 POST."""
    command, _caps, args = parse_command(body)
    if command == "ls-refs":
        reply = ls_refs(git_dir, odb, args)
        return reply, {"protocol": 2, "command": "ls-refs"}
    if command == "fetch":
        return fetch(git_dir, odb, args)
    raise UploadPackError(f"unknown v2 command {command!r}")
