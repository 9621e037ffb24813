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

A body that is only a flush (``0000``, no command) asks for nothing, and gets an
empty 200 answer, as from git's receive-pack.  Real git sends exactly that as a
probe before a push body larger than its ``http.postBuffer`` (1 MiB by
default): only if the probe succeeds does it send the real body, chunked.

The order of the checks is the lesson: everything that can be decided without
writing (ref names, old values, the pack's checksum and hashes, connectivity,
fast-forward) is decided first, with the pack held in memory.  Then the refs
of the commands that passed are locked, every ``.lock`` taken before any ref
moves, and their old values checked again under the locks (a concurrent push
cannot be lost); then the objects those refs reach are saved; only then are
the locks renamed over the refs.  With ``atomic`` this is one transaction for
all refs (:class:`RefTransaction`): all move, or none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitError, RefConflict
from ..refs import common_dir, list_refs, read_packed_refs, read_ref, ref_path
from . import pkt_line
from .pack_stream import OverlayStore, PackError, ReceivedPack, receive_pack_bytes, store_received
from .pkt_line import Data, PktLineError
from .refname import push_target_problem
from .smart_http import ZERO_OID, is_oid
from .walk import is_ancestor, missing_objects, walk_received

ATOMIC_FAILED = "atomic push failed: another ref was rejected"


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
    """(commands, capabilities, pack bytes) from a push body; no commands for git's ``0000`` probe."""
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


def check_objects(odb, received: ReceivedPack, commands: list[Command], deny_non_ff: bool = True) -> None:
    """Connectivity and fast-forward: judged on the store with the pack laid over it.

    ``deny_non_ff``: refuse a branch update that is not a fast-forward, even a forced one (git's
    ``receive.denyNonFastForwards=true``; git's own default is false, which accepts them).
    """
    overlay = OverlayStore(odb, received)
    for cmd in commands:
        if cmd.error is not None or cmd.is_delete:
            continue
        missing = missing_objects(overlay, received.objects, [cmd.new])
        if missing:
            cmd.error = f"missing necessary objects ({missing[0]} and {len(missing) - 1} more)"
        elif overlay.read(cmd.new)[0] != "commit" and cmd.ref.startswith("refs/heads/"):
            cmd.error = "a branch must point at a commit"
        elif deny_non_ff and cmd.old != ZERO_OID and cmd.ref.startswith("refs/heads/") \
                and not is_ancestor(overlay, cmd.old, cmd.new):
            cmd.error = "non-fast-forward"


class RefLockFailed(RefConflict):
    """One ref of a transaction could not be locked or no longer holds its old value."""

    def __init__(self, ref: str, message: str) -> None:
        super().__init__(message)
        self.ref = ref


@dataclass
class _Locked:
    ref: str
    path: Path            # the loose ref file
    lock: Path            # <ref>.lock, holding the new value (empty for a deletion)
    delete: bool
    before: bytes | None  # the loose file's content before, for a rollback


class RefTransaction:
    """Several ref updates that take effect together or not at all (git's ref transaction, small).

    ``prepare`` takes every ``<ref>.lock`` first (``O_EXCL``: a concurrent push
    fails here instead of racing), checks *under the lock* that each ref still
    holds its old value, and writes the new value into the lock file; nothing
    is visible yet, and any failure removes every lock.  ``commit`` renames the
    locks over the refs (a deletion also drops the name from ``packed-refs``,
    whose own lock was taken in ``prepare``); should a rename fail half-way,
    the refs already moved are put back from what ``prepare`` remembered.
    """

    def __init__(self, git_dir) -> None:
        self.git_dir = Path(git_dir)
        self.locked: list[_Locked] = []
        self.packed_lock: Path | None = None
        self.packed_before: bytes | None = None

    def prepare(self, updates: list[tuple[str, str, str]]) -> None:
        """Lock and check ``(ref, old, new)`` updates; raises :class:`RefLockFailed`, holding nothing."""
        try:
            for ref, old, new in updates:
                self._lock_ref(ref, old, new)
            unpacked = {e.ref for e in self.locked if e.delete} & set(read_packed_refs(self.git_dir)[0])
            if unpacked:
                self._lock_packed_refs(unpacked)
        except BaseException:
            self.abort()
            raise

    def _exclusive(self, lock: Path, ref: str) -> int:
        # A ref is a file, so refs/heads/a and refs/heads/a/b cannot both exist.
        if lock.with_suffix("").is_dir():
            raise RefLockFailed(ref, f"cannot lock ref '{ref}': there are refs below it")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            raise RefLockFailed(ref, f"cannot lock ref '{ref}': a ref is in the way") from None
        try:
            return os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise RefLockFailed(ref, f"cannot lock ref '{ref}': {lock.name} exists "
                                     "(another push is updating it)") from None
        except OSError as exc:
            raise RefLockFailed(ref, f"cannot lock ref '{ref}': {exc.strerror}") from None

    def _lock_ref(self, ref: str, old: str, new: str) -> None:
        path = ref_path(self.git_dir, ref)
        lock = path.with_name(path.name + ".lock")
        fd = self._exclusive(lock, ref)
        with os.fdopen(fd, "w") as out:
            self.locked.append(_Locked(ref, path, lock, new == ZERO_OID,
                                       path.read_bytes() if path.is_file() else None))
            current = read_ref(self.git_dir, ref) or ZERO_OID
            if current != old:
                raise RefLockFailed(ref, f"{ref} moved to {current[:7]} while we checked it "
                                         f"(expected {old[:7]})")
            if new != ZERO_OID:
                out.write(new + "\n")

    def _lock_packed_refs(self, names: set[str]) -> None:
        packed = common_dir(self.git_dir) / "packed-refs"
        lock = packed.with_name("packed-refs.lock")
        fd = self._exclusive(lock, "packed-refs")
        self.packed_lock, self.packed_before = lock, packed.read_bytes()
        kept, skipping = [], False
        for line in self.packed_before.decode().splitlines(keepends=True):
            if line.startswith("^") and skipping:
                continue                        # the peeled value of a deleted tag
            skipping = not line.startswith("#") and line.rstrip("\n").partition(" ")[2] in names
            if not skipping:
                kept.append(line)
        with os.fdopen(fd, "w") as out:
            out.write("".join(kept))

    def commit(self) -> None:
        """Make every update visible; on failure undo the ones done and raise."""
        packed = common_dir(self.git_dir) / "packed-refs"
        done: list[_Locked] = []
        try:
            if self.packed_lock is not None:
                os.replace(self.packed_lock, packed)
                self.packed_lock = None
            for entry in self.locked:
                if entry.delete:
                    entry.path.unlink(missing_ok=True)
                    entry.lock.unlink()
                else:
                    os.replace(entry.lock, entry.path)
                done.append(entry)
        except BaseException:
            for entry in reversed(done):
                if entry.before is None:
                    entry.path.unlink(missing_ok=True)
                else:
                    entry.path.write_bytes(entry.before)
            if self.packed_before is not None and self.packed_lock is None:
                packed.write_bytes(self.packed_before)
            self.abort()
            raise
        self.locked = []

    def abort(self) -> None:
        """Remove every lock we hold; the refs were never touched."""
        for entry in self.locked:
            entry.lock.unlink(missing_ok=True)
        if self.packed_lock is not None:
            self.packed_lock.unlink(missing_ok=True)
        self.locked, self.packed_lock = [], None


def apply_commands(git_dir, odb, received: ReceivedPack, commands: list[Command], atomic: bool) -> None:
    """Lock the accepted refs, save the objects they reach, then move the refs.

    With ``atomic`` all accepted commands form one transaction; otherwise each
    command is its own.  The pack is written only after the locks are held and
    the old values re-checked, and holds only objects that a locked ref
    reaches: a refused push leaves no new object file behind.
    """
    accepted = [cmd for cmd in commands if cmd.error is None]
    groups = [accepted] if atomic and accepted else [[cmd] for cmd in accepted]
    prepared: list[tuple[RefTransaction, list[Command]]] = []
    for group in groups:
        transaction = RefTransaction(git_dir)
        try:
            transaction.prepare([(cmd.ref, cmd.old, cmd.new) for cmd in group])
        except RefLockFailed as exc:
            for cmd in group:
                cmd.error = f"failed to update ref: {exc}" if cmd.ref == exc.ref else ATOMIC_FAILED
            continue
        prepared.append((transaction, group))
    tips = [cmd.new for _, group in prepared for cmd in group if not cmd.is_delete]
    keep, _ = walk_received(received.objects, tips)
    try:
        # Objects first, so that a ref never names a missing one.
        store_received(git_dir, ReceivedPack({oid: received.objects[oid] for oid in keep
                                              if not odb.contains(oid)}))
    except BaseException:
        for transaction, _ in prepared:
            transaction.abort()
        raise
    odb.rescan()
    for transaction, group in prepared:
        try:
            transaction.commit()
        except OSError as exc:
            for cmd in group:
                cmd.error = f"failed to update ref: {exc}"


def report(unpack_error: str | None, commands: list[Command]) -> bytes:
    """The report-status lines (without side-band framing)."""
    lines = [f"unpack {unpack_error or 'ok'}"]
    for cmd in commands:
        lines.append(f"ok {cmd.ref}" if cmd.error is None else f"ng {cmd.ref} {cmd.error}")
    return pkt_line.encode_all(lines)


def serve_receive_pack(git_dir, odb, body: bytes, deny_non_ff: bool = True) -> tuple[bytes, list[Command]]:
    """The response body for one push, and the commands with their outcome (``deny_non_ff``:
    see :func:`check_objects`)."""
    commands, caps, pack = parse_commands(body)
    if not commands:
        # git's receive-pack does nothing and says nothing when it reads no command; real git's
        # probe for a large push (a lone flush) must get this empty 200, not an error.
        return b"", commands
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
        check_objects(odb, received, commands, deny_non_ff)
        atomic = "atomic" in caps
        if atomic and any(cmd.error for cmd in commands):
            for cmd in commands:
                cmd.error = cmd.error or ATOMIC_FAILED
        apply_commands(git_dir, odb, received, commands, atomic)
    status = report(unpack_error, commands)
    if "report-status" not in caps:
        return b"", commands
    if "side-band-64k" in caps:
        return pkt_line.encode_sideband(1, status) + pkt_line.FLUSH, commands
    return status, commands
