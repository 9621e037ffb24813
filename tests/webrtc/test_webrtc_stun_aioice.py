"""Differential: aioice's own STUN codec reads what ours writes, and the other way round."""

from __future__ import annotations

import struct

import pytest
from aioice import stun as aioice_stun

from learn_webrtc.stun import Message, MessageClass, Method, check_integrity, decode, encode
from learn_webrtc.stun_attributes import (
    IceControlled,
    Priority,
    Software,
    StunError,
    Username,
    XorMappedAddress,
)
from tests.webrtc.test_webrtc_stun_vectors import (
    SAMPLE_REQUEST,
    SHORT_TERM_PASSWORD,
    TRANSACTION_ID,
    with_length,
)

pytestmark = pytest.mark.differential


def test_aioice_reads_what_we_write_including_integrity_and_fingerprint():
    ours = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID,
                   [Username("evtj:h6vY"), Priority(0x6E0001FF), IceControlled(0x932FF9B151263B36)])
    parsed = aioice_stun.parse_message(encode(ours, integrity_key=SHORT_TERM_PASSWORD, fingerprint=True))
    assert parsed.message_method == aioice_stun.Method.BINDING
    assert parsed.transaction_id == TRANSACTION_ID
    assert parsed.attributes["USERNAME"] == "evtj:h6vY"
    assert parsed.attributes["PRIORITY"] == 0x6E0001FF
    assert parsed.check_message_integrity(SHORT_TERM_PASSWORD)


def test_we_read_what_aioice_writes():
    theirs = aioice_stun.Message(aioice_stun.Method.BINDING, aioice_stun.Class.RESPONSE, TRANSACTION_ID,
                                 {"XOR-MAPPED-ADDRESS": ("2001:db8::9", 4242), "SOFTWARE": "aioice"})
    theirs.add_message_integrity(SHORT_TERM_PASSWORD)  # adds FINGERPRINT too
    message = decode(bytes(theirs))  # decode() checks the FINGERPRINT itself
    assert message.get(XorMappedAddress) == XorMappedAddress("2001:db8::9", 4242)
    assert message.get(Software) == Software("aioice")
    assert check_integrity(message, SHORT_TERM_PASSWORD)


@pytest.mark.parametrize("value", [
    b"\x00\x01\x00\x00",  # IPv4 family and port, no address
    b"\x00\x01\x00\x00\x7f\x00\x00",  # 3 bytes of an IPv4 address
    b"\x00\x02\x00\x00\x20\x01\x0d",  # 3 bytes of an IPv6 one
])
def test_aioice_also_refuses_an_address_shorter_than_8_bytes(value):
    """RFC 8489 §14.1: family, port and at least a 4-byte (IPv4) address; both codecs agree."""
    data = with_length(SAMPLE_REQUEST[:20] + b"\x00\x20" + struct.pack("!H", len(value)) + value
                       + bytes(-len(value) % 4), 4 + len(value) + (-len(value) % 4))
    with pytest.raises(ValueError):
        aioice_stun.parse_message(data)
    with pytest.raises(StunError, match="an address needs at least 8"):
        decode(data)
