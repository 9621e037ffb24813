"""The smart HTTP vocabulary: services, content types, and the ref advertisement.

Reading order: after ``walk.py``; both the server (``http_server.py``) and the
client (``remote.py``) use it.  Spec: gitprotocol-http "Smart Clients" and
"Smart Server Response"; gitprotocol-pack "Reference Discovery";
gitprotocol-capabilities for the words after the NUL.

Every smart conversation starts with ``GET $GIT_URL/info/refs?service=S``; the
answer is a pkt-line stream::

    001e# service=git-upload-pack\\n     only over HTTP: names the service
    0000
    00f1<oid> HEAD\\0multi_ack_detailed side-band-64k ... symref=HEAD:refs/heads/main
    003f<oid> refs/heads/main\\n
    0040<oid> refs/tags/v1\\n
    0043<oid> refs/tags/v1^{}\\n           an annotated tag, peeled to its commit
    0000

The first ref line carries the capability list after a NUL byte.  An empty
repository still needs a line to carry capabilities: it sends the zero id
with the name ``capabilities^{}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import pkt_line
from .pkt_line import Data, Flush, PktLineError

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
ZERO_OID = "0" * 40
AGENT = "agent=mini_git/0.1"

UPLOAD_PACK_CAPS = ["multi_ack_detailed", "side-band-64k", "thin-pack", "ofs-delta",
                    "no-progress", "include-tag", "object-format=sha1", AGENT]
RECEIVE_PACK_CAPS = ["report-status", "delete-refs", "side-band-64k", "quiet", "atomic",
                     "ofs-delta", "object-format=sha1", AGENT]


def advertisement_type(service: str) -> str:
    return f"application/x-{service}-advertisement"


def request_type(service: str) -> str:
    return f"application/x-{service}-request"


def result_type(service: str) -> str:
    return f"application/x-{service}-result"


def is_oid(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def build_advertisement(service: str, refs: list[tuple[str, str]], caps: list[str],
                        http_header: bool = True) -> bytes:
    """The body of ``info/refs`` for ``service``: ``refs`` are (oid, name) in the order to send."""
    lines: list[bytes] = []
    if not refs:
        refs = [(ZERO_OID, "capabilities^{}")]
    for i, (oid, name) in enumerate(refs):
        line = f"{oid} {name}".encode()
        if i == 0:
            line += b"\0" + " ".join(caps).encode()
        lines.append(line + b"\n")
    body = pkt_line.encode_all(lines)
    if http_header:
        body = pkt_line.encode(f"# service={service}") + pkt_line.FLUSH + body
    return body


@dataclass
class Advertisement:
    """What ``info/refs`` told a client: refs, capabilities, where HEAD points."""

    refs: dict[str, str] = field(default_factory=dict)        # name -> oid
    peeled: dict[str, str] = field(default_factory=dict)      # tag name -> what it peels to
    caps: list[str] = field(default_factory=list)
    version: int = 0

    def has(self, cap: str) -> bool:
        return cap in self.caps

    def value(self, name: str) -> list[str]:
        """Values of ``name=value`` capabilities (``symref`` can appear several times)."""
        return [c.split("=", 1)[1] for c in self.caps if c.startswith(name + "=")]

    @property
    def head_target(self) -> str | None:
        for symref in self.value("symref"):
            source, _, target = symref.partition(":")
            if source == "HEAD":
                return target
        return None


def parse_advertisement(body: bytes, service: str) -> Advertisement:
    """Decode an ``info/refs`` body; raises :class:`PktLineError` on anything unexpected."""
    packets = pkt_line.decode_all(body)
    if packets and isinstance(packets[0], Data) and packets[0].payload.startswith(b"# service="):
        announced = packets[0].text().removeprefix("# service=")
        if announced != service:
            raise PktLineError(f"server announced service {announced!r}, expected {service!r}")
        packets = packets[1:]
        if packets and isinstance(packets[0], Flush):
            packets = packets[1:]
    advert = Advertisement()
    if packets and isinstance(packets[0], Data) and packets[0].payload == b"version 2\n":
        advert.version = 2
        advert.caps = [p.text() for p in packets[1:] if isinstance(p, Data)]
        return advert
    for i, packet in enumerate(packets):
        if isinstance(packet, Flush):
            break
        if not isinstance(packet, Data):
            raise PktLineError(f"unexpected {type(packet).__name__} in the ref advertisement")
        line = packet.payload.rstrip(b"\n")
        if i == 0:
            line, _, caps = line.partition(b"\0")
            advert.caps = caps.decode().split()
        oid, _, name = line.decode("utf-8", "replace").partition(" ")
        if not is_oid(oid) or not name:
            raise PktLineError(f"bad ref advertisement line {line[:80]!r}")
        if name == "capabilities^{}":
            continue
        if name.endswith("^{}"):
            advert.peeled[name[:-3]] = oid
        else:
            advert.refs[name] = oid
    return advert


def conversation_id(body: bytes) -> str | None:
    """The commit a request is about, for the trace events' correlation id (``cid``).

    A fetch's first ``want <oid>``, or a push's first command ``<old> <new> <ref>``
    (its new id); None for neither (a ref advertisement, git's lone ``0000`` probe).
    Both ends read it from the same bytes, so a request and its answer share it.
    """
    pos = 0
    while pos + 4 <= len(body) and body[pos:pos + 4] != b"PACK":
        try:
            length = pkt_line.parse_length(body[pos:pos + 4])
        except PktLineError:
            return None
        if length < 4:  # flush, delim, response-end: no payload
            pos += 4
            continue
        words = body[pos + 4:pos + length].split(b"\0")[0].decode("ascii", "replace").split()
        if len(words) >= 2 and words[0] == "want" and is_oid(words[1]):
            return words[1]
        if len(words) == 3 and is_oid(words[0]) and is_oid(words[1]):
            return words[1]
        pos += length
    return None


def split_caps(line: bytes) -> tuple[bytes, list[str]]:
    """A first request line ``want <oid> cap cap`` or ``old new ref\\0cap cap`` -> (line, caps)."""
    if b"\0" in line:
        head, _, caps = line.partition(b"\0")
        return head, caps.decode().split()
    return line, []
