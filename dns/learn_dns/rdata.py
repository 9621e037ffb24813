"""Record data: one small class per record type (RFC 1035 §3.3-3.4, RFC 3596, RFC 3597).

Reading order: wire -> names -> **rdata** -> edns -> message -> zone_data ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

The RDATA of a resource record is a byte string whose meaning depends on
the TYPE.  Each class here reads itself from the message (``from_wire``,
given where the RDATA starts and how long RDLENGTH says it is), writes
itself (``to_wire``), and prints itself as in a master file (``to_text``).

Names inside NS, CNAME, PTR, SOA and MX may be compressed, in both
directions: these are the "well-known" types of RFC 1035 (RFC 3597 §4).
Every type we do not model (SRV, CAA, DS, ...) is kept as :class:`Opaque`
bytes, which is exactly what RFC 3597 asks of a server that does not know
a type: pass it through untouched (and never compress inside it).

An RDATA must end exactly where RDLENGTH says: a name or field that runs
past that boundary, or bytes left over, is a FormatError.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import ClassVar

from .names import Name, decode_name, encode_name
from .wire import U16, U32, FormatError

# TYPE and QTYPE values (RFC 1035 §3.2.2-3.2.3 and later RFCs), for names in traces.
TYPE_NAMES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
    41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 257: "CAA",
    251: "IXFR", 252: "AXFR", 255: "ANY",
}
TYPE_CODES = {name: code for code, name in TYPE_NAMES.items()}
CLASS_IN = 1
CLASS_ANY = 255

Table = dict[tuple[bytes, ...], int] | None


def type_name(code: int) -> str:
    """``"A"`` for 1; ``"TYPE999"`` for a type without a mnemonic (RFC 3597 §5)."""
    return TYPE_NAMES.get(code) or f"TYPE{code}"


def type_code(text: str) -> int:
    text = text.upper()
    if text.startswith("TYPE") and text[4:].isdigit():
        return int(text[4:])
    return TYPE_CODES[text]


class Rdata:
    """Base of all record data classes."""

    rdtype: ClassVar[int] = 0

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> Rdata:
        raise NotImplementedError

    def to_wire(self, out: bytearray, table: Table) -> None:
        raise NotImplementedError

    def to_text(self) -> str:
        raise NotImplementedError


def _check_end(kind: str, pos: int, end: int) -> None:
    if pos > end:
        raise FormatError(f"{kind} RDATA runs {pos - end} bytes past its RDLENGTH")
    if pos < end:
        raise FormatError(f"RDLENGTH leaves {end - pos} bytes after the {kind} RDATA")


@dataclass(frozen=True)
class A(Rdata):
    """An IPv4 address, 4 bytes (§3.4.1)."""

    address: str
    rdtype: ClassVar[int] = 1

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> A:
        if length != 4:
            raise FormatError(f"A RDATA must be 4 bytes, RDLENGTH says {length}")
        return cls(socket.inet_ntop(socket.AF_INET, data[offset:offset + 4]))

    def to_wire(self, out: bytearray, table: Table) -> None:
        out += socket.inet_pton(socket.AF_INET, self.address)

    def to_text(self) -> str:
        return self.address


@dataclass(frozen=True)
class AAAA(Rdata):
    """An IPv6 address, 16 bytes (RFC 3596 §2.2)."""

    address: str
    rdtype: ClassVar[int] = 28

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> AAAA:
        if length != 16:
            raise FormatError(f"AAAA RDATA must be 16 bytes, RDLENGTH says {length}")
        return cls(socket.inet_ntop(socket.AF_INET6, data[offset:offset + 16]))

    def to_wire(self, out: bytearray, table: Table) -> None:
        out += socket.inet_pton(socket.AF_INET6, self.address)

    def to_text(self) -> str:
        return self.address


@dataclass(frozen=True)
class _OneName(Rdata):
    """RDATA that is a single domain name: NS (§3.3.11), CNAME (§3.3.1), PTR (§3.3.12)."""

    target: Name

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> _OneName:
        target, pos = decode_name(data, offset)
        _check_end(type_name(cls.rdtype), pos, offset + length)
        return cls(target)

    def to_wire(self, out: bytearray, table: Table) -> None:
        encode_name(self.target, out, table)

    def to_text(self) -> str:
        return self.target.to_text()


class NS(_OneName):
    rdtype: ClassVar[int] = 2


class CNAME(_OneName):
    rdtype: ClassVar[int] = 5


class PTR(_OneName):
    rdtype: ClassVar[int] = 12


@dataclass(frozen=True)
class MX(Rdata):
    """Mail exchange: a 16-bit preference, then a name (§3.3.9)."""

    preference: int
    exchange: Name
    rdtype: ClassVar[int] = 15

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> MX:
        if length < 3:
            raise FormatError(f"MX RDATA of {length} bytes is too short")
        exchange, pos = decode_name(data, offset + 2)
        _check_end("MX", pos, offset + length)
        return cls(U16.unpack_from(data, offset)[0], exchange)

    def to_wire(self, out: bytearray, table: Table) -> None:
        out += U16.pack(self.preference)
        encode_name(self.exchange, out, table)

    def to_text(self) -> str:
        return f"{self.preference} {self.exchange}"


@dataclass(frozen=True)
class SOA(Rdata):
    """Start of authority (§3.3.13)::

        MNAME RNAME | SERIAL | REFRESH | RETRY | EXPIRE | MINIMUM   (five 32-bit fields)
    """

    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int
    rdtype: ClassVar[int] = 6

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> SOA:
        end = offset + length
        mname, pos = decode_name(data, offset)
        rname, pos = decode_name(data, pos)
        if pos + 20 > end:
            raise FormatError("SOA RDATA ends inside its five 32-bit fields")
        _check_end("SOA", pos + 20, end)
        numbers = [U32.unpack_from(data, pos + 4 * i)[0] for i in range(5)]
        return cls(mname, rname, *numbers)

    def to_wire(self, out: bytearray, table: Table) -> None:
        encode_name(self.mname, out, table)
        encode_name(self.rname, out, table)
        for value in (self.serial, self.refresh, self.retry, self.expire, self.minimum):
            out += U32.pack(value)

    def to_text(self) -> str:
        return (f"{self.mname} {self.rname} {self.serial} {self.refresh} {self.retry} "
                f"{self.expire} {self.minimum}")


@dataclass(frozen=True)
class TXT(Rdata):
    """One or more <character-string>s, each a length byte and up to 255 bytes (§3.3.14)."""

    strings: tuple[bytes, ...]
    rdtype: ClassVar[int] = 16

    @classmethod
    def from_wire(cls, data: bytes, offset: int, length: int) -> TXT:
        end = offset + length
        strings = []
        pos = offset
        while pos < end:
            n = data[pos]
            if pos + 1 + n > end:
                raise FormatError(f"TXT string at offset {pos} claims {n} bytes, past the RDATA's end")
            strings.append(data[pos + 1:pos + 1 + n])
            pos += 1 + n
        return cls(tuple(strings))

    def to_wire(self, out: bytearray, table: Table) -> None:
        for s in self.strings:
            out.append(len(s))
            out += s

    def to_text(self) -> str:
        return " ".join('"' + _quoted(s) + '"' for s in self.strings)


def _quoted(s: bytes) -> str:
    out = []
    for b in s:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


@dataclass(frozen=True)
class Opaque(Rdata):
    """Any other type: the RDATA bytes as they came (RFC 3597)."""

    type_code: int
    data: bytes

    @classmethod
    def from_wire_typed(cls, rdtype: int, data: bytes, offset: int, length: int) -> Opaque:
        return cls(rdtype, data[offset:offset + length])

    def to_wire(self, out: bytearray, table: Table) -> None:
        out += self.data

    def to_text(self) -> str:
        return f"\\# {len(self.data)} {self.data.hex()}".rstrip()


CLASSES: dict[int, type[Rdata]] = {cls.rdtype: cls for cls in (A, AAAA, NS, CNAME, PTR, MX, SOA, TXT)}


def decode_rdata(rdtype: int, data: bytes, offset: int, length: int) -> Rdata:
    """The RDATA of type ``rdtype`` found at ``offset`` (``length`` bytes, already bounds-checked)."""
    cls = CLASSES.get(rdtype)
    if cls is None:
        return Opaque.from_wire_typed(rdtype, data, offset, length)
    return cls.from_wire(data, offset, length)


def rdata_type(rdata: Rdata) -> int:
    return rdata.type_code if isinstance(rdata, Opaque) else rdata.rdtype
