"""pkt-line: the framing under every git wire conversation (sans-I/O).

Reading order: the first module of the network half (see ``NETWORK.md``).
Spec: gitprotocol-common "pkt-line Format"; gitprotocol-v2 for the delimiter
and response-end packets; gitprotocol-pack "side-band, side-band-64k".

A pkt-line is four lowercase hex digits giving the length of the whole line
(the four digits included), then the payload::

    0011want abc...\\n      length 0x11 = 4 + 13 payload bytes
    0000                    flush-pkt: end of a section (no payload)
    0001                    delim-pkt: separates sections (protocol v2)
    0002                    response-end-pkt: end of a v2 response (stateless)

Lengths 0001-0003 other than the specials cannot carry a payload and are
errors; so is anything above 65520 (the largest pkt-line git writes).

:class:`PktReader` is the sans-I/O decoder: ``feed(bytes)`` then iterate
``events()``; it never reads a socket.  :func:`demux_sideband` splits a
side-band-64k stream into pack data (band 1), progress (band 2) and a fatal
error (band 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import GitError

MAX_PKT_LEN = 65520            # whole line, header included (gitprotocol-common)
MAX_PAYLOAD = MAX_PKT_LEN - 4
SIDEBAND_64K_DATA = MAX_PKT_LEN - 5   # one byte of each line names the band

FLUSH = b"0000"
DELIM = b"0001"
RESPONSE_END = b"0002"


class PktLineError(GitError):
    """Bytes that are not a valid pkt-line stream."""


@dataclass(frozen=True)
class Flush:
    """0000: end of a list (refs, wants, a request)."""


@dataclass(frozen=True)
class Delim:
    """0001: separates the capability list from the arguments (v2)."""


@dataclass(frozen=True)
class ResponseEnd:
    """0002: the server has finished this v2 response."""


@dataclass(frozen=True)
class Data:
    """A pkt-line with a payload."""

    payload: bytes

    def text(self) -> str:
        """The payload as text without its trailing newline (git sends one on text lines)."""
        return self.payload.rstrip(b"\n").decode("utf-8", "replace")


Packet = Flush | Delim | ResponseEnd | Data
SPECIALS = {0: Flush(), 1: Delim(), 2: ResponseEnd()}


# -- encoding -------------------------------------------------------------------------------------

def encode(payload: bytes | str) -> bytes:
    """One data pkt-line; text gets the newline git puts after text payloads."""
    if isinstance(payload, str):
        payload = payload.encode() + b"\n"
    if not payload:
        # "0004" is legal but git never sends it: an empty line is a bug on our side.
        raise PktLineError("refusing to encode an empty pkt-line (0004)")
    if len(payload) > MAX_PAYLOAD:
        raise PktLineError(f"pkt-line payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return b"%04x" % (len(payload) + 4) + payload


def encode_all(lines: Iterable[bytes | str], end: bytes = FLUSH) -> bytes:
    """Several data lines followed by ``end`` (flush by default)."""
    return b"".join(encode(line) for line in lines) + end


def encode_sideband(band: int, data: bytes) -> bytes:
    """``data`` on side-band ``band`` (1 pack, 2 progress, 3 error), split to fit 64k lines."""
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(data), SIDEBAND_64K_DATA):
        out += encode(bytes([band]) + view[start:start + SIDEBAND_64K_DATA])
    return bytes(out)


# -- decoding -------------------------------------------------------------------------------------

def parse_length(header: bytes) -> int:
    """The length in a four-byte pkt-line header; raises on anything malformed."""
    if len(header) != 4 or any(c not in b"0123456789abcdefABCDEF" for c in header):
        raise PktLineError(f"bad pkt-line length header {header!r} (expected 4 hex digits)")
    length = int(header, 16)
    if length == 3:
        raise PktLineError("bad pkt-line length 0003 (shorter than its own header)")
    if length > MAX_PKT_LEN:
        raise PktLineError(f"pkt-line length {length} exceeds the maximum {MAX_PKT_LEN}")
    return length


class PktReader:
    """Incremental decoder: ``feed()`` bytes, then take complete packets from ``events()``.

    ``pending`` is how many bytes wait for the rest of their line; at the end
    of a body, ``finish()`` raises if a line was cut short.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def events(self) -> Iterator[Packet]:
        while len(self._buffer) >= 4:
            length = parse_length(bytes(self._buffer[:4]))
            if length in SPECIALS:
                del self._buffer[:4]
                yield SPECIALS[length]
                continue
            if len(self._buffer) < length:
                return
            payload = bytes(self._buffer[4:length])
            del self._buffer[:length]
            yield Data(payload)

    def take_rest(self) -> bytes:
        """The undecoded bytes (a pack follows the last pkt-line in a push)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest

    def finish(self) -> None:
        if self._buffer:
            raise PktLineError(f"stream ends inside a pkt-line ({len(self._buffer)} bytes left over)")


def decode_all(data: bytes) -> list[Packet]:
    """Every packet of a complete body; raises if the body ends mid-line."""
    reader = PktReader()
    reader.feed(data)
    packets = list(reader.events())
    reader.finish()
    return packets


def split_pkt_prefix(data: bytes, sections: int = 1) -> tuple[list[Packet], bytes]:
    """The pkt-lines up to the ``sections``-th flush, and the raw bytes after it.

    A push body is pkt-lines (commands) then a flush, then a raw pack; this
    splits it without copying the pack.
    """
    packets: list[Packet] = []
    pos = 0
    while sections:
        if len(data) - pos < 4:
            raise PktLineError("body ends before the flush-pkt that closes the command list")
        length = parse_length(data[pos:pos + 4])
        if length in SPECIALS:
            packets.append(SPECIALS[length])
            pos += 4
            if length == 0:
                sections -= 1
            continue
        if len(data) - pos < length:
            raise PktLineError(f"body ends inside a pkt-line of length {length}")
        packets.append(Data(data[pos + 4:pos + length]))
        pos += length
    return packets, data[pos:]


# -- side-band-64k ----------------------------------------------------------------------------------

@dataclass
class Sideband:
    """What a side-band-64k stream carried, split by band."""

    data: bytes
    progress: list[str]
    error: str | None


def demux_sideband(packets: Iterable[Packet]) -> Sideband:
    """Split band 1 (pack), band 2 (progress) and band 3 (fatal error) up to the flush."""
    data = bytearray()
    progress: list[str] = []
    error = None
    for packet in packets:
        if isinstance(packet, Flush | ResponseEnd):
            break
        if not isinstance(packet, Data):
            raise PktLineError(f"unexpected {type(packet).__name__} inside side-band data")
        band, body = packet.payload[0], packet.payload[1:]
        if band == 1:
            data += body
        elif band == 2:
            progress.extend(part for part in body.decode("utf-8", "replace").replace("\r", "\n")
                            .split("\n") if part)
        elif band == 3:
            error = body.decode("utf-8", "replace").strip()
        else:
            raise PktLineError(f"unknown side-band {band}")
    return Sideband(bytes(data), progress, error)


def describe(packet: Packet, limit: int = 72) -> str:
    """A one-line rendering of a packet for the ``>``/``<`` trace."""
    if isinstance(packet, Flush):
        return "0000 (flush)"
    if isinstance(packet, Delim):
        return "0001 (delim)"
    if isinstance(packet, ResponseEnd):
        return "0002 (response-end)"
    payload = packet.payload
    head = f"{len(payload) + 4:04x}"
    if payload[:1] in (b"\x01", b"\x02", b"\x03") and len(payload) > 1:
        return f"{head} [band {payload[0]}] {len(payload) - 1} bytes"
    text = payload.rstrip(b"\n").replace(b"\0", b" \\0 ").decode("utf-8", "replace")
    return f"{head} {text[:limit]}{'...' if len(text) > limit else ''}"


def describe_stream(data: bytes, limit: int = 24) -> list[str]:
    """Trace lines for a body: its pkt-lines, then a summary of any raw pack after them."""
    lines: list[str] = []
    pos = 0
    while pos + 4 <= len(data) and data[pos:pos + 4] != b"PACK":
        try:
            length = parse_length(data[pos:pos + 4])
        except PktLineError:
            lines.append(f"(undecodable bytes {data[pos:pos + 8]!r}...)")
            return lines
        packet = SPECIALS.get(length) or Data(data[pos + 4:pos + length])
        pos += 4 if length in SPECIALS else length
        if len(lines) < limit:
            lines.append(describe(packet))
        elif len(lines) == limit:
            lines.append("...")
    if data[pos:pos + 4] == b"PACK" and len(data) - pos >= 12:
        count = int.from_bytes(data[pos + 8:pos + 12], "big")
        lines.append(f"PACK version {int.from_bytes(data[pos + 4:pos + 8], 'big')}, {count} objects, "
                     f"{len(data) - pos} bytes")
    return lines
