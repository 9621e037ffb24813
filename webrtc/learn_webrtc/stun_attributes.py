"""STUN attributes: one small class per attribute type (RFC 8489 §14, RFC 8445 §16.1).

Reading order: stun -> **stun_attributes** -> stun_server -> stun_client -> netns -> nat_relay
-> nat_peer -> nat_lab.

A STUN message body is a list of TLVs (§14)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Type                  |            Length             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Value (variable)                ....
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``stun.py`` walks the TLVs, pads each value to 4 bytes and handles the two
attributes whose value depends on the bytes around them (MESSAGE-INTEGRITY,
FINGERPRINT).  This module knows only what is *inside* one value: each class
has ``TYPE``, ``encode_value(transaction_id)`` and
``decode_value(value, transaction_id)``.  The transaction id is passed to every
attribute because XOR-MAPPED-ADDRESS is masked with it (§14.2).

Types below 0x8000 are "comprehension-required": a server that does not know
one answers 420 listing it in UNKNOWN-ATTRIBUTES (§14).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Union

MAGIC_COOKIE = 0x2112A442  # §5: fixed; tells STUN from RFC 3489 (and from other protocols)


class StunError(ValueError):
    """Bytes that are not a well-formed STUN message; the text says what was wrong."""


class AttributeType(IntEnum):
    """§18.3 and RFC 8445 §16.1: the attribute types this package names."""

    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REALM = 0x0014
    NONCE = 0x0015
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    XOR_MAPPED_ADDRESS = 0x0020
    PRIORITY = 0x0024  # ICE: the priority a prflx candidate would get
    USE_CANDIDATE = 0x0025  # ICE: the controlling agent nominates this pair
    SOFTWARE = 0x8022
    FINGERPRINT = 0x8028
    RESPONSE_ORIGIN = 0x802B  # RFC 5780 §7.3: coturn sends it; we only name it
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A


def attribute_name(type_: int) -> str:
    """``XOR-MAPPED-ADDRESS`` for 0x0020, ``0x7F00`` for a type we do not know."""
    try:
        return AttributeType(type_).name.replace("_", "-")
    except ValueError:
        return f"0x{type_:04X}"


def comprehension_required(type_: int) -> bool:
    """§14: 0x0000-0x7FFF must be understood; 0x8000-0xFFFF may be ignored."""
    return type_ < 0x8000


# --- addresses (§14.1, §14.2) -------------------------------------------------
#
#     0                   1                   2                   3
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |0 0 0 0 0 0 0 0|    Family     |         (X-)Port              |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |              (X-)Address (32 bits or 128 bits)                |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
FAMILY_IPV4 = 0x01
FAMILY_IPV6 = 0x02
_ADDRESS_HEAD = struct.Struct("!xBH")


def _pack_address(address: str, port: int) -> bytes:
    ip = ipaddress.ip_address(address)
    family = FAMILY_IPV4 if ip.version == 4 else FAMILY_IPV6
    return _ADDRESS_HEAD.pack(family, port) + ip.packed


def _unpack_address(value: bytes, name: str) -> tuple[str, int]:
    # §14.1: 4 bytes of zero, family and port, then 4 (IPv4) or 16 (IPv6) bytes of address.
    if len(value) < 8:
        raise StunError(f"{name}: {len(value)} bytes, an address needs at least 8")
    family, port = _ADDRESS_HEAD.unpack_from(value)
    expected = {FAMILY_IPV4: 8, FAMILY_IPV6: 20}.get(family)
    if expected is None:
        raise StunError(f"{name}: unknown address family 0x{family:02x} (expected 0x01 or 0x02)")
    if len(value) != expected:
        raise StunError(f"{name}: {len(value)} bytes, family 0x{family:02x} needs {expected}")
    return str(ipaddress.ip_address(value[4:])), port


def _xor_mask(transaction_id: bytes, size: int) -> bytes:
    """§14.2: IPv4 is XORed with the cookie; IPv6 with the cookie then the transaction id."""
    return (struct.pack("!I", MAGIC_COOKIE) + transaction_id)[:size]


def _xor(data: bytes, mask: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, mask, strict=True))


@dataclass(frozen=True)
class MappedAddress:
    """§14.1: the client's address as the server saw it, in the clear (RFC 3489 style)."""

    TYPE: ClassVar[int] = AttributeType.MAPPED_ADDRESS
    address: str
    port: int

    def encode_value(self, transaction_id: bytes) -> bytes:
        return _pack_address(self.address, self.port)

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> MappedAddress:
        return cls(*_unpack_address(value, "MAPPED-ADDRESS"))


@dataclass(frozen=True)
class XorMappedAddress:
    """§14.2: the same, XORed so that NATs rewriting addresses in payloads leave it alone."""

    TYPE: ClassVar[int] = AttributeType.XOR_MAPPED_ADDRESS
    address: str
    port: int

    def encode_value(self, transaction_id: bytes) -> bytes:
        clear = _pack_address(self.address, self.port)
        x_port = self.port ^ (MAGIC_COOKIE >> 16)
        x_address = _xor(clear[4:], _xor_mask(transaction_id, len(clear) - 4))
        return clear[:2] + struct.pack("!H", x_port) + x_address

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> XorMappedAddress:
        _unpack_address(value, "XOR-MAPPED-ADDRESS")  # checks family and length
        (x_port,) = struct.unpack_from("!H", value, 2)
        packed = _xor(value[4:], _xor_mask(transaction_id, len(value) - 4))
        return cls(str(ipaddress.ip_address(packed)), x_port ^ (MAGIC_COOKIE >> 16))


# --- text (§14.3 USERNAME, §14.9 REALM, §14.10 NONCE, §14.14 SOFTWARE) ----------


@dataclass(frozen=True)
class _Text:
    """UTF-8 text with a maximum length in bytes (each RFC section sets its own)."""

    TYPE: ClassVar[int]
    MAX_BYTES: ClassVar[int]
    text: str

    def encode_value(self, transaction_id: bytes) -> bytes:
        data = self.text.encode("utf-8")
        if len(data) > self.MAX_BYTES:
            raise StunError(f"{attribute_name(self.TYPE)}: {len(data)} bytes, at most {self.MAX_BYTES}")
        return data

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes):  # noqa: ANN206 (returns cls)
        name = attribute_name(cls.TYPE)
        if len(value) > cls.MAX_BYTES:
            raise StunError(f"{name}: {len(value)} bytes, at most {cls.MAX_BYTES}")
        try:
            return cls(value.decode("utf-8"))
        except UnicodeDecodeError:
            raise StunError(f"{name}: not UTF-8: {value[:20]!r}") from None


class Username(_Text):
    TYPE: ClassVar[int] = AttributeType.USERNAME
    MAX_BYTES: ClassVar[int] = 513  # §14.3; ICE uses "remote-ufrag:local-ufrag" (RFC 8445 §7.2.2)


class Realm(_Text):
    TYPE: ClassVar[int] = AttributeType.REALM
    MAX_BYTES: ClassVar[int] = 763  # §14.9: fewer than 128 characters, up to 763 bytes


class Nonce(_Text):
    TYPE: ClassVar[int] = AttributeType.NONCE
    MAX_BYTES: ClassVar[int] = 763  # §14.10


class Software(_Text):
    TYPE: ClassVar[int] = AttributeType.SOFTWARE
    MAX_BYTES: ClassVar[int] = 763  # §14.14


# --- errors (§14.8 ERROR-CODE, §14.13 UNKNOWN-ATTRIBUTES) ----------------------
#
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |           Reserved, should be 0         |Class|     Number    |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |      Reason Phrase (variable)                                ..
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
REASONS = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthenticated",
    420: "Unknown Attribute",
    438: "Stale Nonce",
    487: "Role Conflict",  # RFC 8445 §7.3.1.1
    500: "Server Error",
}


@dataclass(frozen=True)
class ErrorCode:
    """§14.8: a three-digit code split as class (hundreds) and number (0-99)."""

    TYPE: ClassVar[int] = AttributeType.ERROR_CODE
    code: int
    reason: str = ""

    def encode_value(self, transaction_id: bytes) -> bytes:
        if not 300 <= self.code <= 699:
            raise StunError(f"ERROR-CODE: {self.code} is outside 300-699")
        reason = self.reason.encode("utf-8")
        if len(reason) > 763:
            raise StunError(f"ERROR-CODE: reason of {len(reason)} bytes, at most 763")
        return struct.pack("!HBB", 0, self.code // 100, self.code % 100) + reason

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> ErrorCode:
        if len(value) < 4:
            raise StunError(f"ERROR-CODE: {len(value)} bytes, at least 4")
        _, klass, number = struct.unpack_from("!HBB", value)
        klass &= 0x07
        if not 3 <= klass <= 6 or number > 99:
            raise StunError(f"ERROR-CODE: class {klass} number {number} is not a code in 300-699")
        try:
            reason = value[4:].decode("utf-8")
        except UnicodeDecodeError:
            raise StunError("ERROR-CODE: reason phrase is not UTF-8") from None
        return cls(klass * 100 + number, reason)


@dataclass(frozen=True)
class UnknownAttributes:
    """§14.13: in a 420 response, the comprehension-required types that were not understood."""

    TYPE: ClassVar[int] = AttributeType.UNKNOWN_ATTRIBUTES
    types: tuple[int, ...]

    def encode_value(self, transaction_id: bytes) -> bytes:
        return struct.pack(f"!{len(self.types)}H", *self.types)

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> UnknownAttributes:
        if len(value) % 2:
            raise StunError(f"UNKNOWN-ATTRIBUTES: odd length {len(value)}")
        return cls(struct.unpack(f"!{len(value) // 2}H", value))


# --- integrity values (computed in stun.py, §14.5, §14.6) -----------------------


@dataclass(frozen=True)
class _Digest:
    TYPE: ClassVar[int]
    SIZE: ClassVar[int]
    digest: bytes

    def encode_value(self, transaction_id: bytes) -> bytes:
        return self.digest

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes):  # noqa: ANN206
        if len(value) != cls.SIZE:
            raise StunError(f"{attribute_name(cls.TYPE)}: {len(value)} bytes, expected {cls.SIZE}")
        return cls(value)


class MessageIntegrity(_Digest):
    """§14.5: HMAC-SHA1 of the message up to this attribute."""

    TYPE: ClassVar[int] = AttributeType.MESSAGE_INTEGRITY
    SIZE: ClassVar[int] = 20


class MessageIntegritySha256(_Digest):
    """§14.6: HMAC-SHA256 (may be truncated to 16-28 bytes; we always send all 32)."""

    TYPE: ClassVar[int] = AttributeType.MESSAGE_INTEGRITY_SHA256
    SIZE: ClassVar[int] = 32

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> MessageIntegritySha256:
        if not 16 <= len(value) <= 32 or len(value) % 4:
            raise StunError(f"MESSAGE-INTEGRITY-SHA256: {len(value)} bytes, expected 16-32 in steps of 4")
        return cls(value)


# --- fixed-size integers: FINGERPRINT and ICE's attributes (RFC 8445 §7.1.1, §16.1) ---
@dataclass(frozen=True)
class _Integer:
    """A fixed-size unsigned integer value (``FORMAT`` is its struct format)."""

    TYPE: ClassVar[int]
    FORMAT: ClassVar[str]
    value: int

    def encode_value(self, transaction_id: bytes) -> bytes:
        return struct.pack(self.FORMAT, self.value)

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes):  # noqa: ANN206
        size = struct.calcsize(cls.FORMAT)
        if len(value) != size:
            raise StunError(f"{attribute_name(cls.TYPE)}: {len(value)} bytes, expected {size}")
        return cls(struct.unpack(cls.FORMAT, value)[0])


class Fingerprint(_Integer):
    """§14.7: CRC-32 of the message up to this attribute, XORed with 0x5354554E ("STUN")."""

    TYPE: ClassVar[int] = AttributeType.FINGERPRINT
    FORMAT: ClassVar[str] = "!I"


class Priority(_Integer):
    """The priority the sender's candidate would have as a peer-reflexive one (RFC 8445 §7.1.1)."""

    TYPE: ClassVar[int] = AttributeType.PRIORITY
    FORMAT: ClassVar[str] = "!I"


@dataclass(frozen=True)
class UseCandidate:
    """RFC 8445 §7.1.2: the controlling agent nominates this pair (no value)."""

    TYPE: ClassVar[int] = AttributeType.USE_CANDIDATE

    def encode_value(self, transaction_id: bytes) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes, transaction_id: bytes) -> UseCandidate:
        if value:
            raise StunError(f"USE-CANDIDATE: {len(value)} bytes, expected none")
        return cls()


class _TieBreaker(_Integer):
    """ICE-CONTROLLED / ICE-CONTROLLING: the role, and a 64-bit number to settle conflicts (§7.3.1.1)."""

    FORMAT: ClassVar[str] = "!Q"


class IceControlled(_TieBreaker):
    TYPE: ClassVar[int] = AttributeType.ICE_CONTROLLED


class IceControlling(_TieBreaker):
    TYPE: ClassVar[int] = AttributeType.ICE_CONTROLLING


@dataclass(frozen=True)
class RawAttribute:
    """Any attribute this package has no class for, kept as bytes."""

    type: int
    value: bytes

    @property
    def TYPE(self) -> int:  # noqa: N802 (same spelling as the class attribute of the others)
        return self.type

    def encode_value(self, transaction_id: bytes) -> bytes:
        return self.value


_CLASSES = (MappedAddress, XorMappedAddress, Username, Realm, Nonce, Software, ErrorCode, UnknownAttributes,
            MessageIntegrity, MessageIntegritySha256, Fingerprint, Priority, UseCandidate, IceControlled,
            IceControlling)
Attribute = Union[(*_CLASSES, RawAttribute)]  # noqa: UP007 (built from the tuple, not spelled out)
ATTRIBUTE_CLASSES: dict[int, type] = {cls.TYPE: cls for cls in _CLASSES}


def decode_attribute(type_: int, value: bytes, transaction_id: bytes) -> Attribute:
    """The typed attribute for ``type_``, or a :class:`RawAttribute` if we have no class for it."""
    cls = ATTRIBUTE_CLASSES.get(type_)
    if cls is None:
        return RawAttribute(type_, value)
    return cls.decode_value(value, transaction_id)
