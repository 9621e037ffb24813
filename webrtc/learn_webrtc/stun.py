"""STUN messages on the wire: header, attribute list, integrity and fingerprint (RFC 8489).

Reading order: **stun** -> stun_attributes -> stun_server -> stun_client -> netns -> nat_relay
-> nat_peer -> nat_lab.

Sans-I/O: :func:`encode` turns a :class:`Message` into the bytes of one UDP
datagram and :func:`decode` turns a datagram back into a :class:`Message`, or
raises :class:`StunError` saying what was wrong.  No sockets, no clock, no
randomness: the 96-bit transaction id is always given by the caller.

Every STUN message starts with this 20-byte header (§5)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |0 0|     STUN Message Type     |         Message Length        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Magic Cookie = 0x2112A442                   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     Transaction ID (96 bits)                  |
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The two leading zero bits and the cookie let one UDP port carry STUN beside
DTLS and RTP (RFC 7983): that is how WebRTC multiplexes everything on one port.
The 14-bit type interleaves a 12-bit *method* with a 2-bit *class* (§5)::

    bit  13 12 11 10  9  8  7  6  5  4  3  2  1  0
         M11 M10 M9 M8 M7 C1 M6 M5 M4 C0 M3 M2 M1 M0

Two attributes cover the bytes *before* them, so the encoder computes them
last, with the header's length already counting them (§14.5, §14.7):
MESSAGE-INTEGRITY (HMAC-SHA1 with the short-term password, or MD5 of
"user:realm:password" for long-term credentials, §9.2.2) and FINGERPRINT
(CRC-32 XOR 0x5354554E).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from .stun_attributes import (
    MAGIC_COOKIE,
    Attribute,
    AttributeType,
    Fingerprint,
    MessageIntegrity,
    MessageIntegritySha256,
    RawAttribute,
    StunError,
    attribute_name,
    comprehension_required,
    decode_attribute,
)

__all__ = ["Message", "MessageClass", "Method", "StunError", "decode", "encode", "check_integrity",
           "looks_like_stun", "long_term_key", "short_term_key", "HEADER_SIZE"]

HEADER_SIZE = 20
_HEADER = struct.Struct("!HHI12s")
_TLV = struct.Struct("!HH")
FINGERPRINT_XOR = 0x5354554E  # "STUN" in ASCII (§14.7)
_COMPUTED = (AttributeType.MESSAGE_INTEGRITY, AttributeType.MESSAGE_INTEGRITY_SHA256,
             AttributeType.FINGERPRINT)


class Method(IntEnum):
    """§18.2 and RFC 8656 §17: STUN's one method, and TURN's."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


class MessageClass(IntEnum):
    """§3, §5: what kind of message, carried in bits C1 C0 of the type."""

    REQUEST = 0b00
    INDICATION = 0b01  # no response expected (TURN Send/Data)
    SUCCESS_RESPONSE = 0b10
    ERROR_RESPONSE = 0b11


def message_type(method: int, message_class: int) -> int:
    """§5: spread the method's bits around the two class bits."""
    return ((method & 0x00F) | ((method & 0x070) << 1) | ((method & 0xF80) << 2)
            | ((message_class & 0b01) << 4) | ((message_class & 0b10) << 7))


def split_message_type(type_: int) -> tuple[int, MessageClass]:
    """The inverse of :func:`message_type`."""
    method = (type_ & 0x000F) | ((type_ & 0x00E0) >> 1) | ((type_ & 0x3E00) >> 2)
    return method, MessageClass(((type_ >> 4) & 0b01) | ((type_ >> 7) & 0b10))


def method_name(method: int) -> str:
    try:
        return Method(method).name.replace("_", "-").title()
    except ValueError:
        return f"method 0x{method:03x}"


@dataclass
class Message:
    """One STUN message: method and class, transaction id, attributes in wire order.

    A decoded message also keeps its ``raw`` bytes and where MESSAGE-INTEGRITY
    sits in them, because integrity is checked over the bytes as received.
    """

    method: int
    message_class: MessageClass
    transaction_id: bytes
    attributes: list[Attribute] = field(default_factory=list)
    raw: bytes = field(default=b"", repr=False, compare=False)
    offsets: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def get(self, cls: type) -> Attribute | None:
        """The first attribute of class ``cls``, or None."""
        return next((a for a in self.attributes if type(a) is cls), None)

    def unknown_required(self) -> list[int]:
        """§14: comprehension-required types we could not understand (a server answers 420)."""
        return [a.type for a in self.attributes
                if isinstance(a, RawAttribute) and comprehension_required(a.type)]

    def summary(self) -> str:
        """One trace line: ``Binding request tid=b7e7a701bc34 USERNAME PRIORITY ...``."""
        names = " ".join(attribute_name(a.TYPE) for a in self.attributes)
        kind = self.message_class.name.lower().replace("_", " ")
        return f"{method_name(self.method)} {kind} tid={self.transaction_id.hex()[:12]} {names}".rstrip()


def looks_like_stun(data: bytes) -> bool:
    """§5, RFC 7983: first two bits zero and the magic cookie in place (cheap demultiplexing)."""
    return len(data) >= HEADER_SIZE and data[0] < 0x40 and data[4:8] == b"\x21\x12\xa4\x42"


def _tlv(type_: int, value: bytes, padding: bytes) -> bytes:
    pad = -len(value) % 4  # §14: values are padded to a multiple of 4 bytes
    return _TLV.pack(type_, len(value)) + value + padding * pad


def _header(message: Message, length: int) -> bytes:
    type_ = message_type(message.method, message.message_class)
    return _HEADER.pack(type_, length, MAGIC_COOKIE, message.transaction_id)


def _crc(data: bytes) -> int:
    return (binascii.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def encode(message: Message, *, integrity_key: bytes | None = None, integrity_sha256_key: bytes | None = None,
           fingerprint: bool = False, padding: bytes = b"\x00") -> bytes:
    """The datagram for ``message``; MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT are appended here.

    ``padding`` is the byte used to pad values (§14: receivers must ignore it;
    RFC 5769's vectors use spaces, so tests pass ``b" "`` to reproduce them).
    """
    if len(message.transaction_id) != 12:
        raise StunError(f"transaction id of {len(message.transaction_id)} bytes, expected 12 (§5)")
    body = b""
    for attribute in message.attributes:
        if attribute.TYPE in _COMPUTED:
            raise StunError(f"{attribute_name(attribute.TYPE)} is computed by encode(); pass its key instead")
        body += _tlv(attribute.TYPE, attribute.encode_value(message.transaction_id), padding)
    # Each computed attribute is taken over a header whose length already
    # counts that attribute, and nothing after it (§14.5, §14.6, §14.7).
    if integrity_key is not None:
        digest = hmac.new(integrity_key, _header(message, len(body) + 24) + body, hashlib.sha1).digest()
        body += _tlv(AttributeType.MESSAGE_INTEGRITY, digest, padding)
    if integrity_sha256_key is not None:
        covered = _header(message, len(body) + 36) + body
        digest = hmac.new(integrity_sha256_key, covered, hashlib.sha256).digest()
        body += _tlv(AttributeType.MESSAGE_INTEGRITY_SHA256, digest, padding)
    if fingerprint:
        crc = _crc(_header(message, len(body) + 8) + body)
        body += _tlv(AttributeType.FINGERPRINT, struct.pack("!I", crc), padding)
    if len(body) > 0xFFFF:
        raise StunError(f"message body of {len(body)} bytes does not fit the 16-bit length")
    return _header(message, len(body)) + body


def parse_header(data: bytes) -> tuple[int, MessageClass, int, bytes]:
    """(method, class, length, transaction id) of a datagram, checking §6.3's first rules."""
    if len(data) < HEADER_SIZE:
        raise StunError(f"{len(data)} bytes: shorter than the 20-byte header")
    type_, length, cookie, transaction_id = _HEADER.unpack_from(data)
    if type_ & 0xC000:
        raise StunError(f"first two bits are {type_ >> 14:02b}, must be 00")
    if cookie != MAGIC_COOKIE:
        raise StunError(f"magic cookie 0x{cookie:08x}, expected 0x{MAGIC_COOKIE:08x}")
    method, message_class = split_message_type(type_)
    return method, message_class, length, transaction_id


def decode(data: bytes) -> Message:
    """Parse one datagram (§6.3), checking FINGERPRINT if present; raise StunError if malformed."""
    method, message_class, length, transaction_id = parse_header(data)
    if length % 4:
        raise StunError(f"message length {length} is not a multiple of 4")
    if HEADER_SIZE + length != len(data):
        raise StunError(f"header says {length} bytes of attributes, datagram has {len(data) - HEADER_SIZE}")
    message = Message(method, message_class, transaction_id, raw=bytes(data))
    offset = HEADER_SIZE
    while offset < len(data):
        if offset + 4 > len(data):
            raise StunError(f"attribute header cut short at byte {offset}")
        type_, size = _TLV.unpack_from(data, offset)
        end = offset + 4 + size
        if end > len(data):
            raise StunError(f"{attribute_name(type_)} at byte {offset} claims {size} bytes, only "
                            f"{len(data) - offset - 4} left")
        if AttributeType.FINGERPRINT in message.offsets:
            raise StunError(f"{attribute_name(type_)} after FINGERPRINT, which must be last (§14.7)")
        after_integrity = AttributeType.MESSAGE_INTEGRITY in message.offsets
        # §14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
        # FINGERPRINT count; anything else was not protected, so it is ignored.
        if not after_integrity or type_ in _COMPUTED:
            message.attributes.append(decode_attribute(type_, data[offset + 4:end], transaction_id))
            if type_ in _COMPUTED:
                message.offsets[type_] = offset
        offset = end + (-size % 4)
    if offset != len(data):
        raise StunError(f"last attribute's padding runs past the end of the message ({offset} > {len(data)})")
    fingerprint = message.get(Fingerprint)
    if fingerprint is not None:
        at = message.offsets[AttributeType.FINGERPRINT]
        expected = _crc(_patched_length(data, at, 4))
        if fingerprint.value != expected:
            raise StunError(f"FINGERPRINT 0x{fingerprint.value:08x} does not match 0x{expected:08x}")
    return message


def _patched_length(data: bytes, offset: int, value_size: int) -> bytes:
    """The bytes before ``offset``, the header length ending after that attribute (``value_size`` bytes)."""
    length = offset - HEADER_SIZE + 4 + value_size
    return data[:2] + struct.pack("!H", length) + data[4:offset]


def check_integrity(message: Message, key: bytes) -> bool:
    """§14.5 / §14.6: does the decoded ``message`` carry a valid HMAC made with ``key``?

    MESSAGE-INTEGRITY-SHA256 is preferred when both are present (§9.1.3).
    False when the message has neither.
    """
    sha256 = message.get(MessageIntegritySha256)
    if sha256 is not None:
        at = message.offsets[AttributeType.MESSAGE_INTEGRITY_SHA256]
        size = len(sha256.digest)
        expected = hmac.new(key, _patched_length(message.raw, at, size), hashlib.sha256).digest()[:size]
        return hmac.compare_digest(expected, sha256.digest)
    sha1 = message.get(MessageIntegrity)
    if sha1 is not None:
        at = message.offsets[AttributeType.MESSAGE_INTEGRITY]
        expected = hmac.new(key, _patched_length(message.raw, at, 20), hashlib.sha1).digest()
        return hmac.compare_digest(expected, sha1.digest)
    return False


def short_term_key(password: str) -> bytes:
    """§9.1.1: the key is the password itself (ICE uses the remote ice-pwd, RFC 8445 §7.2.2)."""
    return password.encode("utf-8")


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """§9.2.2: MD5(username ":" realm ":" password).

    The RFC runs the password through OpaqueString (RFC 8265) first; this
    teaching version takes the password as already prepared (plain ASCII
    passwords, the usual case, are unchanged by it).
    """
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()
