"""File transfer over a data channel: manifest, chunks and the check on arrival, with no I/O.

Reading order: ... peer -> **file_transfer** -> media -> turn -> chat -> demo.

A data channel carries *messages* (SCTP, RFC 8831), not a byte stream, and a
message should stay small: browsers interoperate reliably up to 16 KiB per
message (RFC 8831 §6.6 leaves the limit to the implementations, and large
messages block every other message on the channel while they are sent).  So a
file goes as:

    text    {"type": "file", "name": ..., "size": N, "chunk_size": 16384, "chunks": K,
             "sha256": "<hex of the whole file>", "digests": ["<first 8 bytes of each chunk's SHA-256>", ...]}
    binary  | index: uint32 big-endian | payload: up to chunk_size bytes |     x K
    text    {"type": "file-end", "name": ...}

The channel is reliable and ordered, so nothing is lost or reordered by the
transport, and nothing is changed on the way either: DTLS authenticates every
record, so a relay (TURN) or anyone else on the path cannot alter a byte
without the record being dropped.  The hashes also travel on that same
channel, so they could not catch someone who could rewrite it anyway.  What
they catch are *application* bugs at either end: a bad chunker, a corrupted
buffer, a chunk written to the wrong place.  The whole-file SHA-256 says
*whether* the file is intact; the per-chunk digests say *which* chunk is not.

Flow control is the sender's job and lives in the application (``chat.py``):
``RTCDataChannel.send()`` never blocks, it queues, so the sender waits for the
``bufferedamountlow`` event whenever ``bufferedAmount`` is above a threshold.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wirelab_common.errors import CheckFailed

CHUNK_SIZE = 16 * 1024
INDEX = struct.Struct("!I")  # uint32, network byte order, before each chunk's payload
DIGEST_BYTES = 8


class TransferError(CheckFailed):
    """A transfer failed: the file does not match its manifest, or it was cut off (the message says which)."""


@dataclass(frozen=True)
class Manifest:
    name: str
    size: int
    chunk_size: int
    sha256: str
    digests: tuple[str, ...]

    @property
    def chunks(self) -> int:
        return len(self.digests)

    def to_message(self) -> dict[str, Any]:
        return {"type": "file", "name": self.name, "size": self.size, "chunk_size": self.chunk_size,
                "chunks": self.chunks, "sha256": self.sha256, "digests": list(self.digests)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Manifest:
        try:
            manifest = cls(str(message["name"]), int(message["size"]), int(message["chunk_size"]),
                           str(message["sha256"]), tuple(str(d) for d in message["digests"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TransferError(f"bad manifest: {exc!r}") from None
        if manifest.chunks != int(message.get("chunks", -1)):
            raise TransferError("bad manifest: 'chunks' disagrees with the digest list")
        return manifest


def chunk_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[: 2 * DIGEST_BYTES]


def make_manifest(name: str, data: bytes, chunk_size: int = CHUNK_SIZE) -> Manifest:
    pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    return Manifest(name, len(data), chunk_size, hashlib.sha256(data).hexdigest(),
                    tuple(chunk_digest(p) for p in pieces))


def frames(data: bytes, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The binary messages that carry ``data``: each is an index and a payload."""
    pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    for index, payload in enumerate(pieces):
        yield INDEX.pack(index) + payload


class Assembler:
    """Collects the chunks of one file, then checks them against the manifest."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.pieces: dict[int, bytes] = {}
        self.received_bytes = 0

    def add(self, message: bytes) -> int:
        """Take one binary message; returns the chunk index it carried."""
        if len(message) < INDEX.size:
            raise TransferError(f"chunk message of {len(message)} bytes has no index")
        (index,) = INDEX.unpack_from(message)
        if index >= self.manifest.chunks:
            raise TransferError(f"chunk index {index} beyond the {self.manifest.chunks} announced")
        if index in self.pieces:
            raise TransferError(f"chunk {index} received twice")
        payload = message[INDEX.size:]
        if len(payload) > self.manifest.chunk_size:
            raise TransferError(f"chunk {index} has {len(payload)} bytes, more than the chunk size")
        self.pieces[index] = payload
        self.received_bytes += len(payload)
        return index

    @property
    def complete(self) -> bool:
        return len(self.pieces) == self.manifest.chunks

    def verify(self, checksums: bool = True) -> bytes:
        """The file, if every chunk arrived and matches; else TransferError naming what is wrong.

        ``checksums=False`` skips the SHA-256 comparison (the demo's ``--no-sha256``:
        a corrupted chunk then goes through unnoticed).
        """
        missing = [i for i in range(self.manifest.chunks) if i not in self.pieces]
        if missing:
            raise TransferError(f"{len(missing)} chunk(s) missing, first {missing[:5]}")
        data = b"".join(self.pieces[i] for i in range(self.manifest.chunks))
        if len(data) != self.manifest.size:
            raise TransferError(f"size {len(data)} != announced {self.manifest.size}")
        if checksums and hashlib.sha256(data).hexdigest() != self.manifest.sha256:
            bad = [i for i in range(self.manifest.chunks)
                   if chunk_digest(self.pieces[i]) != self.manifest.digests[i]]
            raise TransferError(f"SHA-256 mismatch: corrupted chunk(s) {bad[:10]}")
        return data
