"""The STUN codec against the test vectors of RFC 5769, then its error cases.

Each vector carries a MESSAGE-INTEGRITY and most a FINGERPRINT, so a single
mistyped byte would make these tests fail: the vectors check themselves.
Vectors 2.1-2.3 pad with spaces (0x20), which receivers must ignore (RFC 8489
§14); we re-encode them with ``padding=b" "`` to get the RFC's bytes exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from learn_webrtc.stun import (
    Message,
    MessageClass,
    Method,
    check_integrity,
    decode,
    encode,
    long_term_key,
    looks_like_stun,
    message_type,
    split_message_type,
)
from learn_webrtc.stun_attributes import (
    AttributeType,
    ErrorCode,
    Fingerprint,
    IceControlled,
    MappedAddress,
    MessageIntegrity,
    MessageIntegritySha256,
    Nonce,
    Priority,
    RawAttribute,
    Realm,
    Software,
    StunError,
    UnknownAttributes,
    Username,
    XorMappedAddress,
)

pytestmark = pytest.mark.pure


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(" ".join(text.split()))


TRANSACTION_ID = hexbytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SHORT_TERM_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 §2.1 Sample Request (short-term credentials, as ICE sends them).
SAMPLE_REQUEST = hexbytes("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf""")

# RFC 5769 §2.2 Sample IPv4 Response: 192.0.2.1 port 32853.
SAMPLE_IPV4_RESPONSE = hexbytes("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96""")

# RFC 5769 §2.3 Sample IPv6 Response: 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
SAMPLE_IPV6_RESPONSE = hexbytes("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c""")

# RFC 5769 §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT).
LONG_TERM_REQUEST = hexbytes("""
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66""")


def without_computed(message: Message) -> Message:
    """The message minus MESSAGE-INTEGRITY and FINGERPRINT, which encode() adds itself."""
    kept = [a for a in message.attributes if not isinstance(a, MessageIntegrity | Fingerprint)]
    return Message(message.method, message.message_class, message.transaction_id, kept)


# --- RFC 5769 ----------------------------------------------------------------------


def test_sample_request_decodes_to_the_attributes_the_rfc_lists():
    message = decode(SAMPLE_REQUEST)
    assert (message.method, message.message_class) == (Method.BINDING, MessageClass.REQUEST)
    assert message.transaction_id == TRANSACTION_ID
    assert message.get(Software) == Software("STUN test client")
    assert message.get(Username) == Username("evtj:h6vY")
    assert message.get(Priority) == Priority(0x6E0001FF)
    assert message.get(IceControlled) == IceControlled(0x932FF9B151263B36)
    assert message.summary() == ("Binding request tid=b7e7a701bc34 SOFTWARE PRIORITY ICE-CONTROLLED USERNAME "
                                 "MESSAGE-INTEGRITY FINGERPRINT")


def test_sample_request_integrity_checks_with_the_short_term_password_only():
    message = decode(SAMPLE_REQUEST)
    assert check_integrity(message, SHORT_TERM_PASSWORD)
    assert not check_integrity(message, b"VOkJxbRl1RmTxUk/WvJxBu")


def test_sample_request_is_reencoded_byte_for_byte():
    again = encode(without_computed(decode(SAMPLE_REQUEST)), integrity_key=SHORT_TERM_PASSWORD,
                   fingerprint=True, padding=b" ")
    assert again == SAMPLE_REQUEST


@pytest.mark.parametrize(("vector", "address"), [
    (SAMPLE_IPV4_RESPONSE, "192.0.2.1"),
    (SAMPLE_IPV6_RESPONSE, "2001:db8:1234:5678:11:2233:4455:6677"),
])
def test_sample_responses_carry_the_xor_mapped_address_and_reencode_exactly(vector, address):
    message = decode(vector)
    assert message.message_class == MessageClass.SUCCESS_RESPONSE
    assert message.get(XorMappedAddress) == XorMappedAddress(address, 32853)
    assert message.get(Software) == Software("test vector")
    assert check_integrity(message, SHORT_TERM_PASSWORD)
    again = encode(without_computed(message), integrity_key=SHORT_TERM_PASSWORD, fingerprint=True,
                   padding=b" ")
    assert again == vector


def test_long_term_request_checks_with_md5_of_user_realm_password():
    message = decode(LONG_TERM_REQUEST)
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"  # "matrix" in katakana, as in the RFC
    assert message.get(Username) == Username(username)
    assert message.get(Nonce) == Nonce("f//499k954d6OL34oL9FSTvy64sA")
    assert message.get(Realm) == Realm("example.org")
    assert message.get(Fingerprint) is None
    key = long_term_key(username, "example.org", "TheMatrIX")
    assert key == hashlib.md5(f"{username}:example.org:TheMatrIX".encode()).digest()
    assert check_integrity(message, key)
    assert not check_integrity(message, long_term_key(username, "example.org", "thematrix"))
    assert encode(without_computed(message), integrity_key=key) == LONG_TERM_REQUEST


# --- the header -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "message_class", "wire"), [
    (Method.BINDING, MessageClass.REQUEST, 0x0001),
    (Method.BINDING, MessageClass.SUCCESS_RESPONSE, 0x0101),
    (Method.BINDING, MessageClass.ERROR_RESPONSE, 0x0111),
    (Method.DATA, MessageClass.INDICATION, 0x0017),
    (Method.ALLOCATE, MessageClass.ERROR_RESPONSE, 0x0113),
    (0xFFF, MessageClass.ERROR_RESPONSE, 0x3FFF),
])
def test_message_type_interleaves_method_and_class_bits(method, message_class, wire):
    assert message_type(method, message_class) == wire
    assert split_message_type(wire) == (method, message_class)


def test_stun_is_told_apart_from_dtls_and_rtp_by_first_bits_and_cookie():
    assert looks_like_stun(SAMPLE_REQUEST)
    assert not looks_like_stun(b"\x16\xfe\xfd" + bytes(30))  # DTLS handshake: first byte 20-63
    assert not looks_like_stun(b"\x80" + SAMPLE_REQUEST[1:])  # RTP: first byte 128-191
    assert not looks_like_stun(SAMPLE_REQUEST[:19])


# --- round trips ------------------------------------------------------------------


def test_every_attribute_round_trips_with_both_integrities_and_a_fingerprint():
    message = Message(Method.BINDING, MessageClass.ERROR_RESPONSE, bytes(range(12)), [
        MappedAddress("203.0.113.7", 3478),
        XorMappedAddress("2001:db8::1", 65535),
        ErrorCode(420, "Unknown Attribute"),
        UnknownAttributes((0x7F00, 0x0002)),
        Software("wirelab"),
        RawAttribute(0xC001, b"odd"),
    ])
    data = encode(message, integrity_key=b"k1", integrity_sha256_key=b"k2", fingerprint=True)
    decoded = decode(data)
    assert decoded == Message(message.method, message.message_class, message.transaction_id,
                              [*message.attributes, decoded.get(MessageIntegrity),
                               decoded.get(MessageIntegritySha256), decoded.get(Fingerprint)])
    assert check_integrity(decoded, b"k2")  # SHA-256 is preferred when both are present
    assert not check_integrity(decoded, b"k1")


def test_integrity_sha256_is_the_hmac_of_the_header_with_its_length_patched():
    message = Message(Method.BINDING, MessageClass.REQUEST, bytes(12), [Username("a:b")])
    data = encode(message, integrity_sha256_key=b"secret")
    covered = data[:2] + struct.pack("!H", len(data) - 20) + data[4:-36]
    assert data[-32:] == hmac.new(b"secret", covered, hashlib.sha256).digest()


def test_attributes_after_message_integrity_are_ignored():
    signed = encode(Message(Method.BINDING, MessageClass.REQUEST, bytes(12)), integrity_key=b"k")
    extra = struct.pack("!HH", AttributeType.SOFTWARE, 4) + b"evil"
    tampered = signed[:2] + struct.pack("!H", len(signed) - 20 + 8) + signed[4:] + extra
    message = decode(tampered)
    assert message.get(Software) is None
    assert check_integrity(message, b"k")


def test_unknown_comprehension_required_attributes_are_reported():
    message = decode(encode(Message(Method.BINDING, MessageClass.REQUEST, bytes(12),
                                    [RawAttribute(0x7F00, b""), RawAttribute(0xC0DE, b"")])))
    assert message.unknown_required() == [0x7F00]


# --- errors -----------------------------------------------------------------------


def with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


@pytest.mark.parametrize(("data", "complaint"), [
    (SAMPLE_REQUEST[:19], "shorter than the 20-byte header"),
    (b"\x40" + SAMPLE_REQUEST[1:], "first two bits are 01"),
    (SAMPLE_REQUEST[:4] + b"\x21\x12\xa4\x43" + SAMPLE_REQUEST[8:], "magic cookie 0x2112a443"),
    (with_length(SAMPLE_REQUEST, 0x57), "not a multiple of 4"),
    (SAMPLE_REQUEST + b"\0\0\0\0", "datagram has 92"),
    (SAMPLE_REQUEST[:-1] + b"\x00", "FINGERPRINT 0xe57a3b00 does not match 0xe57a3bcf"),
    (with_length(SAMPLE_REQUEST[:20] + b"\x80\x22\x00\x40abcd", 8), "claims 64 bytes, only 4 left"),
    (with_length(SAMPLE_REQUEST[:20] + b"\x00\x20\x00\x08\x00\x03\x00\x00\x01\x02\x03\x04", 12),
     "unknown address family"),
    # RFC 8489 §14.1: the shortest address (IPv4) is 8 bytes; a family and port alone are not one.
    (with_length(SAMPLE_REQUEST[:20] + b"\x00\x20\x00\x04\x00\x01\x00\x00", 8),
     "XOR-MAPPED-ADDRESS: 4 bytes, an address needs at least 8"),
    (with_length(SAMPLE_REQUEST[:20] + b"\x00\x01\x00\x04\x00\x03\x00\x00", 8),
     "MAPPED-ADDRESS: 4 bytes, an address needs at least 8"),
    (with_length(SAMPLE_REQUEST[:20] + b"\x00\x06\x00\x02\xff\xfe\x00\x00", 8), "USERNAME: not UTF-8"),
    (with_length(SAMPLE_REQUEST[:20] + b"\x00\x09\x00\x04\x00\x00\x02\x00", 8), "class 2 number 0"),
    (with_length(SAMPLE_IPV4_RESPONSE + b"\x80\x22\x00\x00", 0x40), "SOFTWARE after FINGERPRINT"),
])
def test_malformed_messages_raise_stun_error_saying_what_is_wrong(data, complaint):
    with pytest.raises(StunError, match=complaint):
        decode(data)


def test_encoder_refuses_what_it_must_compute_itself_and_bad_transaction_ids():
    with pytest.raises(StunError, match="computed by encode"):
        encode(Message(Method.BINDING, MessageClass.REQUEST, bytes(12), [Fingerprint(0)]))
    with pytest.raises(StunError, match="transaction id of 11 bytes"):
        encode(Message(Method.BINDING, MessageClass.REQUEST, bytes(11)))
    with pytest.raises(StunError, match="outside 300-699"):
        encode(Message(Method.BINDING, MessageClass.ERROR_RESPONSE, bytes(12), [ErrorCode(200)]))
