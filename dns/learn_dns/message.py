"""A whole DNS message: header, question, three sections of records (RFC 1035 §4.1).

Reading order: wire -> names -> rdata -> edns -> **message** -> zone_data ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

This is the codec's front door: ``Message.from_wire(bytes)`` and
``message.to_wire(limit)``.  No sockets, no clock: bytes in, objects out.

The 12-byte header (§4.1.1)::

      0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |                      ID                       |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |                    QDCOUNT                    |
    |                    ANCOUNT                    |
    |                    NSCOUNT                    |
    |                    ARCOUNT                    |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+

(AD and CD came later, with DNSSEC: RFC 4035 §3.2.)  Then QDCOUNT questions
(§4.1.2: QNAME, QTYPE, QCLASS) and the answer, authority and additional
sections, each a list of resource records (§4.1.3)::

    NAME | TYPE (16) | CLASS (16) | TTL (32) | RDLENGTH (16) | RDATA

Truncation (§4.2.1, RFC 2181 §9): a UDP answer bigger than the requester
accepts is replaced by the header and question alone with TC set; the client
asks again over TCP.  (A finer server drops optional additional records
first; we keep the rule to one line.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from .edns import OPT, Edns, edns_from_opt, encode_opt
from .names import Name, decode_name, encode_name
from .rdata import Opaque, Rdata, decode_rdata, rdata_type, type_name
from .wire import U16, FormatError

HEADER_SIZE = 12
HEADER = struct.Struct("!HHHHHH")         # ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT
QUESTION_FIXED = struct.Struct("!HH")     # QTYPE, QCLASS after the QNAME
RR_FIXED = struct.Struct("!HHIH")         # TYPE, CLASS, TTL, RDLENGTH after the NAME
TCP_LIMIT = 65535
EMPTY_RDATA_CLASSES = (254, 255)  # NONE, ANY: RFC 2136's classes that may carry no RDATA


class Opcode(IntEnum):
    QUERY = 0
    IQUERY = 1
    STATUS = 2
    NOTIFY = 4      # RFC 1996
    UPDATE = 5      # RFC 2136


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    YXDOMAIN = 6    # RFC 2136 §2.2: UPDATE's prerequisite rcodes...
    YXRRSET = 7
    NXRRSET = 8
    NOTAUTH = 9     # ...not authoritative for the zone...
    NOTZONE = 10    # ...a name outside the zone
    BADVERS = 16    # needs EDNS's extended rcode bits


@dataclass
class Header:
    """The header's fields; the four counts are derived from the sections."""

    id: int = 0
    qr: bool = False
    opcode: int = Opcode.QUERY
    aa: bool = False
    tc: bool = False
    rd: bool = False
    ra: bool = False
    z: bool = False
    ad: bool = False
    cd: bool = False
    rcode: int = 0          # the low 4 bits; Message.rcode adds EDNS's upper bits

    def flags_word(self) -> int:
        return ((self.qr << 15) | ((self.opcode & 0xF) << 11) | (self.aa << 10) | (self.tc << 9)
                | (self.rd << 8) | (self.ra << 7) | (self.z << 6) | (self.ad << 5) | (self.cd << 4)
                | (self.rcode & 0xF))

    @classmethod
    def from_flags_word(cls, id_: int, word: int) -> Header:
        return cls(id_, bool(word & 0x8000), (word >> 11) & 0xF, bool(word & 0x400), bool(word & 0x200),
                   bool(word & 0x100), bool(word & 0x80), bool(word & 0x40), bool(word & 0x20),
                   bool(word & 0x10), word & 0xF)


@dataclass(frozen=True)
class Question:
    name: Name
    qtype: int
    qclass: int = 1

    def __str__(self) -> str:
        return f"{self.name} {type_name(self.qtype)}"


@dataclass(frozen=True)
class ResourceRecord:
    name: Name
    rtype: int
    rclass: int
    ttl: int
    rdata: Rdata

    def to_text(self) -> str:
        return f"{self.name} {self.ttl} IN {type_name(self.rtype)} {self.rdata.to_text()}"

    __str__ = to_text


def record(name: Name | str, ttl: int, rdata: Rdata, rclass: int = 1) -> ResourceRecord:
    """A record whose TYPE is taken from its RDATA."""
    owner = Name.from_text(name) if isinstance(name, str) else name
    return ResourceRecord(owner, rdata_type(rdata), rclass, ttl, rdata)


@dataclass
class Message:
    header: Header = field(default_factory=Header)
    questions: list[Question] = field(default_factory=list)
    answers: list[ResourceRecord] = field(default_factory=list)
    authority: list[ResourceRecord] = field(default_factory=list)
    additional: list[ResourceRecord] = field(default_factory=list)
    edns: Edns | None = None

    @property
    def rcode(self) -> int:
        """The full rcode: 4 header bits plus EDNS's 8 extended bits (RFC 6891 §6.1.3)."""
        return ((self.edns.ext_rcode << 4) if self.edns else 0) | self.header.rcode

    def set_rcode(self, rcode: int) -> None:
        self.header.rcode = rcode & 0xF
        if rcode > 0xF and self.edns is None:
            raise ValueError(f"rcode {rcode} needs EDNS")
        if self.edns is not None:
            self.edns = replace(self.edns, ext_rcode=rcode >> 4)

    # -- decoding -----------------------------------------------------------

    @classmethod
    def from_wire(cls, data: bytes) -> Message:
        """Decode one message; any malformation raises :class:`FormatError`."""
        if len(data) < HEADER_SIZE:
            raise FormatError(f"message of {len(data)} bytes is shorter than the 12-byte header")
        id_, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
        header = Header.from_flags_word(id_, flags)
        message = cls(header)
        pos = HEADER_SIZE
        for _ in range(qdcount):
            name, pos = decode_name(data, pos)
            if pos + 4 > len(data):
                raise FormatError(f"message ends inside the QTYPE/QCLASS fields at offset {pos}")
            qtype, qclass = QUESTION_FIXED.unpack_from(data, pos)
            message.questions.append(Question(name, qtype, qclass))
            pos += 4
        for section, count in ((message.answers, ancount), (message.authority, nscount),
                               (message.additional, arcount)):
            for _ in range(count):
                pos = _decode_record(data, pos, message, section)
        if pos != len(data):
            raise FormatError(f"{len(data) - pos} bytes left after the last record (offset {pos})")
        return message

    # -- encoding -----------------------------------------------------------

    def to_wire(self, limit: int = TCP_LIMIT, compress: bool = True) -> bytes:
        """Encode; if the result exceeds ``limit`` bytes, return the truncated form with TC set."""
        wire = self._encode(self.answers, self.authority, self.additional, compress, self.header.tc)
        if len(wire) <= limit:
            return wire
        return self.truncated(compress)

    def truncated(self, compress: bool = True) -> bytes:
        """The TC form: header, question and OPT only; the client retries over TCP."""
        return self._encode([], [], [], compress, True)

    def _encode(self, answers: list[ResourceRecord], authority: list[ResourceRecord],
                additional: list[ResourceRecord], compress: bool, tc: bool) -> bytes:
        header = replace(self.header, tc=tc)
        arcount = len(additional) + (1 if self.edns is not None else 0)
        out = bytearray(HEADER.pack(header.id, header.flags_word(), len(self.questions), len(answers),
                                    len(authority), arcount))
        table: dict[tuple[bytes, ...], int] | None = {} if compress else None
        for q in self.questions:
            encode_name(q.name, out, table)
            out += QUESTION_FIXED.pack(q.qtype, q.qclass)
        for rr in (*answers, *authority, *additional):
            encode_name(rr.name, out, table)
            out += RR_FIXED.pack(rr.rtype, rr.rclass, rr.ttl, 0)  # RDLENGTH filled in below
            start = len(out)
            rr.rdata.to_wire(out, table)
            out[start - 2:start] = U16.pack(len(out) - start)
        if self.edns is not None:
            encode_opt(self.edns, out)
        return bytes(out)


def _decode_record(data: bytes, pos: int, message: Message, section: list[ResourceRecord]) -> int:
    """Decode the record at ``pos`` into ``section`` (or as the OPT); return the offset after it."""
    name, pos = decode_name(data, pos)
    start = pos + 10
    if start > len(data):
        raise FormatError(f"message ends inside the TYPE/CLASS/TTL/RDLENGTH fields at offset {pos}")
    rtype, rclass, ttl, rdlength = RR_FIXED.unpack_from(data, pos)
    if start + rdlength > len(data):
        raise FormatError(f"RDATA at offset {start} claims {rdlength} bytes but the message ends first")
    if rtype == OPT:
        if section is not message.additional:
            raise FormatError("OPT record outside the additional section")
        if message.edns is not None:
            raise FormatError("more than one OPT record")
        message.edns = edns_from_opt(name, rclass, ttl, data, start, rdlength)
    elif rdlength == 0 and rclass in EMPTY_RDATA_CLASSES and message.header.opcode == Opcode.UPDATE:
        # RFC 2136 §2.4-2.5: a prerequisite or deletion of class ANY/NONE names a type, with no data.
        section.append(ResourceRecord(name, rtype, rclass, ttl, Opaque(rtype, b"")))
    else:
        section.append(ResourceRecord(name, rtype, rclass, ttl, decode_rdata(rtype, data, start, rdlength)))
    return start + rdlength
