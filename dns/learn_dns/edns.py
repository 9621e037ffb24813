"""EDNS(0): the OPT pseudo-record that extends the 1987 header (RFC 6891 §6).

Reading order: wire -> names -> rdata -> **edns** -> message -> zone_data ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

A client that speaks EDNS adds one OPT record to the additional section.
Its fields are reused for new meanings (§6.1.2-6.1.3)::

    NAME   = root (a single 0 byte)
    TYPE   = 41 (OPT)
    CLASS  = requester's UDP payload size: how big a UDP answer it accepts
    TTL    = EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15)
    RDATA  = options: { OPTION-CODE (16) | OPTION-LENGTH (16) | data }*

Without OPT a UDP answer is limited to 512 bytes (RFC 1035 §4.2.1); with it,
to the advertised size (values under 512 count as 512).  EXTENDED-RCODE holds
the upper 8 bits of a 12-bit rcode (BADVERS = 16 needs them).  DO says the
client wants DNSSEC records (RFC 3225); a server copies it into its answer.
Options (cookies, client subnet, padding) are kept as (code, bytes) pairs.

Rules a server enforces (§6.1.1): at most one OPT, in the additional
section, owned by the root.  Anything else is FORMERR.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import ROOT, Name
from .wire import U16, FormatError

OPT = 41
MIN_PAYLOAD = 512      # what "no EDNS" means, and the floor of any advertised size
OUR_PAYLOAD = 1232     # the size DNS Flag Day 2020 recommends: fits any path's MTU without IP fragments
DO_BIT = 0x8000
BADVERS = 16           # full 12-bit rcode: an EDNS version we do not speak


@dataclass(frozen=True)
class Edns:
    """The fields of an OPT record, by their RFC 6891 names."""

    payload: int = OUR_PAYLOAD
    ext_rcode: int = 0          # upper 8 bits of the 12-bit rcode
    version: int = 0
    do: bool = False
    z: int = 0                  # the 15 other flag bits, zero today
    options: tuple[tuple[int, bytes], ...] = ()

    @property
    def udp_limit(self) -> int:
        """The biggest UDP answer this requester accepts."""
        return max(self.payload, MIN_PAYLOAD)

    def ttl_field(self) -> int:
        return (self.ext_rcode << 24) | (self.version << 16) | (DO_BIT if self.do else 0) | self.z

    def options_wire(self) -> bytes:
        return b"".join(U16.pack(code) + U16.pack(len(data)) + data for code, data in self.options)


def edns_from_opt(owner: Name, rclass: int, ttl: int, data: bytes, offset: int, length: int) -> Edns:
    """Build an :class:`Edns` from an OPT record's fields (already cut out of the message)."""
    if owner != ROOT:
        raise FormatError(f"OPT record owned by {owner}, not by the root")
    options = []
    pos, end = offset, offset + length
    while pos < end:
        if pos + 4 > end:
            raise FormatError(f"OPT option header at offset {pos} is cut off by the RDATA's end")
        code, size = U16.unpack_from(data, pos)[0], U16.unpack_from(data, pos + 2)[0]
        if pos + 4 + size > end:
            raise FormatError(f"OPT option {code} claims {size} bytes, past the RDATA's end")
        options.append((code, bytes(data[pos + 4:pos + 4 + size])))
        pos += 4 + size
    return Edns(payload=rclass, ext_rcode=ttl >> 24, version=(ttl >> 16) & 0xFF,
                do=bool(ttl & DO_BIT), z=ttl & 0x7FFF, options=tuple(options))


def encode_opt(edns: Edns, out: bytearray) -> None:
    """Append the OPT record for ``edns`` to ``out``."""
    rdata = edns.options_wire()
    out += b"\x00" + U16.pack(OPT) + U16.pack(edns.payload)
    out += edns.ttl_field().to_bytes(4, "big") + U16.pack(len(rdata)) + rdata
