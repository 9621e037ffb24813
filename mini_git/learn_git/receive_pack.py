"""receive-pack, the server side of push.

Reading order: after ``upload_pack.py``.  ``http_server.py`` hands it the body
of ``POST /<repo>/git-receive-pack``.  Spec: gitprotocol-pack "Pushing Data
To a Server" and "Report Status"; gitprotocol-capabilities "report-status",
"atomic", "delete-refs".

The request is pkt-lines, a flush, then a raw pack::

    C: 00a4<old> <new> refs/heads/main\\0report-status side-band-64k ...\\n
    C: 0069<zero> <new> refs/heads/topic\\n         zero old id: create
    C: 0000
    C: PACK....                                      absent when every command deletes

    S: (on side-band 1)  000eunpack ok\\n  0019ok refs/heads/main\\n
                          0031ng refs/heads/topic non-fast-forward\\n  0000

The order of the checks is the lesson: everything that can be decided without
writing (ref names, old values, the pack's checksum and hashes, connectivity,
fast-forward) is decided first, with the pack held in memory.  Only commands
that pass get their objects saved and their refs moved, each ref with an
old-value check under its ``.lock`` so a concurrent push cannot be lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import pkt_line
from .errors import GitError, RefConflict
from .pack_stream import OverlayStore, PackError, ReceivedPack, receive_pack_bytes, store_received
from .pkt_line import Data, PktLineError
from .refname import push_target_problem
from .refs import delete_ref, list_refs, read_ref, update_ref
from .smart_http import ZERO_OID, is_oid
from .walk import is_ancestor, missing_objects


class ReceivePackError(GitError):
    """The push request itself is malformed (answered with HTTP 400)."""


@dataclass
class Command:
    """One ``<old> <new> <ref>`` line, and what became of it."""

    old: str
    new: str
    ref: str
    error: str | None = None     # None: ok; otherwise the reason after "ng <ref> "

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_OID


def advertised_refs(git_dir) -> list[tuple[str, str]]:
    """receive-pack advertises the refs only (no HEAD, no peeled tags)."""
    return [(oid, name) for name, oid in list_refs(git_dir).items()]


def parse_commands(body: bytes) -> tuple[list[Command], list[str], bytes]:
    """(commands, capabilities, pack bytes) from a push body."""
    try:
        packets, pack = pkt_line.split_pkt_prefix(body)
    except PktLineError as exc:
        raise ReceivePackError(f"bad command list: {exc}") from exc
    commands: list[Command] = []
    caps: list[str] = []
    for packet in packets[:-1]:          # the last packet is the flush
        if not isinstance(packet, Data):
            raise ReceivePackError(f"unexpected {type(packet).__name__} in the command list")
        line = packet.payload.rstrip(b"\n")
        if not commands and b"\0" in line:
            line, _, raw_caps = line.partition(b"\0")
            caps = raw_caps.decode("utf-8", "replace").split()
        parts = line.decode("utf-8", "replace").split(" ")
        if len(parts) != 3 or not (is_oid(parts[0]) and is_oid(parts[1])):
            raise ReceivePackError(f"bad command line {line[:80]!r} (expected '<old> <new> <ref>')")
        commands.append(Command(*parts))
    if not commands:
        raise ReceivePackError("push request has no commands")
    return commands, caps, pack


def check_commands(git_dir, commands: list[Command]) -> None:
    """Mark commands whose name or old value is wrong (nothing has been read or written yet)."""
    seen = set()
    for cmd in commands:
        problem = push_target_problem(cmd.ref)
        if problem is not None:
            cmd.error = problem
        elif cmd.ref in seen:
            cmd.error = "duplicate ref in one push"
        elif (read_ref(git_dir, cmd.ref) or ZERO_OID) != cmd.old:
            cmd.error = "stale info: the ref is not at the old value you sent (fetch first)"
        seen.add(cmd.ref)


def check_objects(odb, received: ReceivedPack, commands: list[Command]) -> None:
    """Connectivity and fast-forward: judged on the store with the pack laid over it."""
    overlay = OverlayStore(odb, received)
    for cmd in commands:
        if cmd.error is not None or cmd.is_delete:
            continue
        missing = missing_objects(overlay, received.objects, [cmd.new])
        if missing:
            cmd.error = f"missing necessary objects ({missing[0]} and {len(missing) - 1} more)"
        elif overlay.read(cmd.new)[0] != "commit" and cmd.ref.startswith("refs/heads/"):
            cmd.error = "a branch must point at a commit"
        elif cmd.old != ZERO_OID and cmd.ref.startswith("refs/heads/") \
                and not is_ancestor(overlay, cmd.old, cmd.new):
            cmd.error = "non-fast-forward"


def apply_commands(git_dir, commands: list[Command]) -> None:
    """Move each accepted ref, checking under its lock that nobody moved it meanwhile."""
    for cmd in commands:
        if cmd.error is not None:
            continue
        try:
            if cmd.is_delete:
                delete_ref(git_dir, cmd.ref, expected_old=cmd.old)
            else:
                update_ref(git_dir, cmd.ref, cmd.new, expected_old=None if cmd.old == ZERO_OID else cmd.old)
        except RefConflict as exc:
            cmd.error = f"failed to update ref: {exc}"
        except GitError as exc:
            cmd.error = str(exc)


def report(unpack_error: str | None, commands: list[Command]) -> bytes:
    """The report-status lines (without side-band framing)."""
    lines = [f"unpack {unpack_error or 'ok'}"]
    for cmd in commands:
        lines.append(f"ok {cmd.ref}" if cmd.error is None else f"ng {cmd.ref} {cmd.error}")
    return pkt_line.encode_all(lines)


def serve_receive_pack(git_dir, odb, body: bytes) -> tuple[bytes, list[Command]]:
    """The response body for one push, and the commands with their outcome."""
    commands, caps, pack = parse_commands(body)
    unpack_error = None
    received = ReceivedPack()
    if pack or not all(cmd.is_delete for cmd in commands):
        try:
            received = receive_pack_bytes(pack, odb.read)
        except PackError as exc:
            unpack_error = str(exc)
    if unpack_error is not None:
        for cmd in commands:
            cmd.error = "unpacker error"
    else:
        check_commands(git_dir, commands)
        check_objects(odb, received, commands)
        if "atomic" in caps and any(cmd.error for cmd in commands):
            for cmd in commands:
                cmd.error = cmd.error or "atomic push failed: another ref was rejected"
        if any(cmd.error is None and not cmd.is_delete for cmd in commands):
            store_received(git_dir, received)   # objects first, so a ref never names a missing one
            odb.rescan()
        apply_commands(git_dir, commands)
    status = report(unpack_error, commands)
    if "report-status" not in caps:
        return b"", commands
    if "side-band-64k" in caps:
        return pkt_line.encode_sideband(1, status) + pkt_line.FLUSH, commands
    return status, commands
