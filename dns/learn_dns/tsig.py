"""TSIG (RFC 8945) without I/O: is this message signed with a key we share, and sign our answer.

Reading order: after ``update.py``; ``nameserver.py`` checks an UPDATE's
signature here before anything else.

A TSIG record is the last record of the additional section.  Its RDATA
holds the algorithm (here only ``hmac-sha256.``), the time it was signed,
the allowed clock difference (fudge), the MAC, the message's original ID, an
error code and "other data"::

    ALGORITHM NAME | TIME SIGNED (48) | FUDGE (16) | MAC SIZE (16) | MAC
    | ORIGINAL ID (16) | ERROR (16) | OTHER LEN (16) | OTHER DATA

The MAC is HMAC-SHA256, with the shared secret, over (§4.3.3):

- the message as sent *without* its TSIG record (ARCOUNT one less, the
  original ID in place), then
- the TSIG variables: key name and algorithm name in canonical form
  (lowercase, uncompressed), class ANY, TTL 0, time signed, fudge, error,
  other data.

A response's MAC also covers the request's MAC first (§4.3.1), so an
answer cannot be replayed against another request.  Verdicts (§5.2): an
unknown key or algorithm is BADKEY, a wrong MAC BADSIG, a time further than
fudge from ours BADTIME; the response rcode is then NOTAUTH, and the TSIG
error field says which (signed only for BADTIME, §5.3.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

from .names import Name, decode_name
from .wire import U16, FormatError

TSIG_TYPE = 250
CLASS_ANY = 255
ALGORITHM = Name.from_text("hmac-sha256.")
FUDGE = 300  # seconds of clock difference we allow and announce (RFC 8945 §10 suggests 300)
BADSIG, BADKEY, BADTIME = 16, 17, 18
ERROR_NAMES = {BADSIG: "BADSIG", BADKEY: "BADKEY", BADTIME: "BADTIME"}
RR_FIXED = struct.Struct("!HHIH")


def canonical(name: Name) -> bytes:
    """Lowercase, uncompressed wire form (RFC 8945 §4.3.3, RFC 4034 §6.2)."""
    return b"".join(bytes((len(label),)) + label for label in name.key) + b"\0"


@dataclass(frozen=True)
class Key:
    name: Name
    secret: bytes

    @classmethod
    def from_text(cls, text: str) -> Key:
        """``NAME:BASE64SECRET``: ``nsupdate -y hmac-sha256:NAME:SECRET`` without the algorithm."""
        name, sep, secret = text.rpartition(":")
        if not sep or not name:
            raise ValueError(f"expected NAME:BASE64SECRET, got {text!r}")
        return cls(Name.from_text(name), base64.b64decode(secret, validate=True))


@dataclass(frozen=True)
class Signed:
    """A checked TSIG: which key, the request's MAC (a response signs over it), or an error."""

    key_name: Name
    algorithm: Name
    mac: bytes
    original_id: int
    error: int = 0      # 0, or BADSIG / BADKEY / BADTIME
    key: Key | None = None


def find_tsig(data: bytes) -> int | None:
    """The offset of the last record if it is a TSIG (the only place it may be, §5.1), else None."""
    _, _, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
    if ar == 0:
        return None
    pos = 12
    for _ in range(qd):
        _, pos = decode_name(data, pos)
        pos += 4
    last = pos
    for _ in range(an + ns + ar):
        last = pos
        _, pos = decode_name(data, pos)
        rdlength = U16.unpack_from(data, pos + 8)[0]
        pos += 10 + rdlength
    _, after_name = decode_name(data, last)
    return last if U16.unpack_from(data, after_name)[0] == TSIG_TYPE else None


def _variables(key_name: Name, algorithm: Name, time_signed: int, fudge: int, error: int,
               other: bytes) -> bytes:
    return (canonical(key_name) + struct.pack("!HI", CLASS_ANY, 0) + canonical(algorithm)
            + time_signed.to_bytes(6, "big") + struct.pack("!HHH", fudge, error, len(other)) + other)


def verify(data: bytes, offset: int, keys: dict[Name, Key], now: int) -> Signed:
    """Check the TSIG at ``offset`` of request ``data`` (FormatError if it is malformed)."""
    key_name, pos = decode_name(data, offset)
    _, rclass, ttl, rdlength = RR_FIXED.unpack_from(data, pos)
    rdata = data[pos + 10:pos + 10 + rdlength]
    if rclass != CLASS_ANY or ttl != 0:
        raise FormatError("a TSIG record has class ANY and TTL 0")
    algorithm, p = decode_name(rdata, 0)
    if p + 10 > len(rdata):
        raise FormatError("TSIG RDATA ends inside its fixed fields")
    time_signed = int.from_bytes(rdata[p:p + 6], "big")
    fudge, mac_size = struct.unpack_from("!HH", rdata, p + 6)
    mac = rdata[p + 10:p + 10 + mac_size]
    p += 10 + mac_size
    if p + 6 > len(rdata):
        raise FormatError("TSIG RDATA ends inside its last fields")
    original_id, error, other_len = struct.unpack_from("!HHH", rdata, p)
    other = rdata[p + 6:p + 6 + other_len]
    key = keys.get(key_name)
    if key is None or algorithm != ALGORITHM:
        return Signed(key_name, algorithm, mac, original_id, BADKEY)
    # the message as it was before the TSIG was added: ARCOUNT one less, the original ID
    unsigned = bytearray(data[:offset])
    unsigned[0:2] = U16.pack(original_id)
    unsigned[10:12] = U16.pack(U16.unpack_from(unsigned, 10)[0] - 1)
    expected = hmac.new(key.secret, bytes(unsigned) + _variables(key_name, algorithm, time_signed, fudge,
                                                                   error, other), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        return Signed(key_name, algorithm, mac, original_id, BADSIG)
    if abs(now - time_signed) > fudge:
        return Signed(key_name, algorithm, mac, original_id, BADTIME, key)
    return Signed(key_name, algorithm, mac, original_id, 0, key)


def sign_response(wire: bytes, request: Signed, now: int) -> bytes:
    """Append our TSIG to response ``wire``: signed over the request's MAC too, or unsigned
    (MAC size 0) when the request's key or MAC was bad (§5.3.2)."""
    other = now.to_bytes(6, "big") if request.error == BADTIME else b""  # our clock, for the client
    if request.key is None or request.error == BADSIG:
        mac = b""
    else:
        covered = U16.pack(len(request.mac)) + request.mac + wire
        covered += _variables(request.key_name, request.algorithm, now, FUDGE, request.error, other)
        mac = hmac.new(request.key.secret, covered, hashlib.sha256).digest()
    rdata = (canonical(request.algorithm) + now.to_bytes(6, "big") + struct.pack("!HH", FUDGE, len(mac)) + mac
             + struct.pack("!HHH", request.original_id, request.error, len(other)) + other)
    record = canonical(request.key_name) + RR_FIXED.pack(TSIG_TYPE, CLASS_ANY, 0, len(rdata)) + rdata
    out = bytearray(wire)
    out[10:12] = U16.pack(U16.unpack_from(out, 10)[0] + 1)
    return bytes(out) + record
