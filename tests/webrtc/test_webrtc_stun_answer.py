"""The STUN Binding server's decision, pure: one datagram and its source in, the reply out."""

from __future__ import annotations

import random

import pytest

from learn_webrtc.stun import Message, MessageClass, Method, decode, encode
from learn_webrtc.stun_attributes import (
    ErrorCode,
    RawAttribute,
    Software,
    UnknownAttributes,
    Username,
    XorMappedAddress,
)
from learn_webrtc.stun_client import mapping_behaviour, retransmission_delays, url_parser
from learn_webrtc.stun_server import SOFTWARE, answer

pytestmark = pytest.mark.pure

SOURCE = ("203.0.113.1", 40000)
TID = bytes(range(12))


def binding_request(*attributes) -> bytes:
    return encode(Message(Method.BINDING, MessageClass.REQUEST, TID, list(attributes)), fingerprint=True)


def test_binding_request_is_answered_with_the_source_address_xored():
    result = answer(binding_request(), SOURCE)
    response = decode(result.data)
    assert response.message_class == MessageClass.SUCCESS_RESPONSE
    assert response.transaction_id == TID
    assert response.get(XorMappedAddress) == XorMappedAddress(*SOURCE)
    assert response.get(Software) == Software(SOFTWARE)


def test_ipv6_sources_are_reported_too():
    response = decode(answer(binding_request(), ("2001:db8::7", 5000)).data)
    assert response.get(XorMappedAddress) == XorMappedAddress("2001:db8::7", 5000)


def test_an_ice_check_is_answered_without_checking_credentials():
    # A plain STUN server has no password: it answers, and only ICE agents check integrity.
    request = encode(Message(Method.BINDING, MessageClass.REQUEST, TID, [Username("a:b")]),
                     integrity_key=b"pw")
    assert decode(answer(request, SOURCE).data).message_class == MessageClass.SUCCESS_RESPONSE


def test_unknown_comprehension_required_attribute_gets_420_listing_it():
    result = answer(binding_request(RawAttribute(0x7F00, b"x"), RawAttribute(0xC000, b"")), SOURCE)
    response = decode(result.data)
    assert response.get(ErrorCode).code == 420
    assert response.get(UnknownAttributes) == UnknownAttributes((0x7F00,))


def test_malformed_stun_request_gets_400_with_the_reason():
    broken = binding_request(Software("abc"))
    broken = broken[:2] + (len(broken) - 20 + 4).to_bytes(2, "big") + broken[4:]  # length lies
    response = decode(answer(broken, SOURCE).data)
    assert response.message_class == MessageClass.ERROR_RESPONSE
    assert response.transaction_id == TID
    error = response.get(ErrorCode)
    assert error.code == 400 and "header says" in error.reason


def test_other_methods_are_refused_with_400():
    request = encode(Message(Method.ALLOCATE, MessageClass.REQUEST, TID))
    error = decode(answer(request, SOURCE).data).get(ErrorCode)
    assert error.code == 400 and "not served here" in error.reason


@pytest.mark.parametrize("datagram", [
    b"GET / HTTP/1.1\r\n\r\n",
    b"\x16\xfe\xfd" + bytes(40),  # DTLS
    b"",
    encode(Message(Method.BINDING, MessageClass.SUCCESS_RESPONSE, TID)),
    encode(Message(Method.BINDING, MessageClass.INDICATION, TID)),  # a keepalive
])
def test_non_stun_responses_and_indications_get_no_answer(datagram):
    assert answer(datagram, SOURCE).data is None


def mutations(rng: random.Random, count: int) -> list[bytes]:
    """Random bytes, STUN headers with random bodies, and bit-flipped valid requests."""
    seed = binding_request(Software("fuzz"), Username("a:b"))
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 120)))
        elif kind == 1:
            body = rng.randbytes(4 * rng.randrange(0, 20))
            out.append(b"\x00\x01" + len(body).to_bytes(2, "big") + seed[4:20] + body)
        else:
            data = bytearray(seed)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            out.append(bytes(data[: rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data))
    return out


def test_answer_never_raises_on_mutated_input():
    for datagram in mutations(random.Random(5769), 5000):
        result = answer(datagram, SOURCE)
        if result.data is not None:
            decode(result.data)  # whatever we send is well-formed


def test_retransmissions_double_and_mapping_is_named_after_rfc_4787():
    assert retransmission_delays(0.5, 4) == [0.5, 1.0, 2.0, 4.0]
    assert mapping_behaviour([("203.0.113.1", 5), ("203.0.113.1", 5)]) == "endpoint-independent"
    assert mapping_behaviour([("203.0.113.1", 5), ("203.0.113.1", 6)]).startswith("address-and-port")


def test_the_client_takes_its_servers_as_udp_urls():
    import argparse

    assert url_parser("udp")("udp://203.0.113.10:3478") == ("203.0.113.10", 3478)
    for bad in ("203.0.113.10:3478", "tcp://203.0.113.10:3478", "udp://nowhere"):
        with pytest.raises(argparse.ArgumentTypeError):
            url_parser("udp")(bad)
