"""The hand-written codec on its own: the RFC's example bytes, and each way a packet can be malformed."""

from __future__ import annotations

import struct

import pytest

from learn_dns.edns import Edns
from learn_dns.message import Header, Message, Question, Rcode, record
from learn_dns.names import Name, decode_name, encode_name
from learn_dns.rdata import AAAA, MX, NS, SOA, TXT, A, Opaque
from learn_dns.wire import FormatError
from learn_dns.wire_cache import parse_question, patch

pytestmark = pytest.mark.pure


def rfc1035_compression_example() -> bytes:
    """RFC 1035 §4.1.4: F.ISI.ARPA at offset 20, FOO.F.ISI.ARPA at 40, ARPA at 64, the root at 92."""
    data = bytearray(100)
    data[20:32] = b"\x01F\x03ISI\x04ARPA\x00"
    data[40:46] = b"\x03FOO\xc0\x14"          # FOO + pointer to 20
    data[64:66] = b"\xc0\x1a"                  # pointer to 26: "ARPA"
    data[92] = 0
    return bytes(data)


def test_the_rfc_compression_example_decodes_to_its_four_names():
    data = rfc1035_compression_example()
    assert decode_name(data, 20) == (Name.from_text("F.ISI.ARPA."), 32)
    assert decode_name(data, 40) == (Name.from_text("FOO.F.ISI.ARPA."), 46)
    assert decode_name(data, 64) == (Name.from_text("ARPA."), 66)
    assert decode_name(data, 92) == (Name.from_text("."), 93)


def test_encoding_points_a_repeated_suffix_at_its_first_occurrence():
    out, table = bytearray(20), {}
    encode_name(Name.from_text("F.ISI.ARPA"), out, table)
    encode_name(Name.from_text("FOO.f.isi.arpa"), out, table)   # case differs: still the same suffix
    encode_name(Name.from_text("ARPA"), out, table)
    assert bytes(out[20:]) == b"\x01F\x03ISI\x04ARPA\x00" + b"\x03FOO\xc0\x14" + b"\xc0\x1a"


def test_names_compare_without_case_and_keep_their_case():
    name = Name.from_text("WWW.Example.COM")
    assert name == Name.from_text("www.example.com.")
    assert hash(name) == hash(Name.from_text("www.example.com"))
    assert str(name) == "WWW.Example.COM."


def test_names_with_odd_bytes_round_trip_through_text():
    name = Name([b"a.b", b"\x00\xff", b'q"uote'])
    assert str(name) == 'a\\.b.\\000\\255.q\\"uote.'
    assert Name.from_text(str(name)).labels == name.labels


@pytest.mark.parametrize("data, offset, reason", [
    (b"\x00" * 12 + b"\xc0\x0c", 12, "points to 12"),                  # a pointer to itself
    (b"\x00" * 12 + b"\xc0\x0e\x00", 12, "forward"),                    # a pointer forward
    (b"\x00" * 12 + b"\x01a\xc0\x0c", 14, "not before"),                # back into itself: a loop
    (b"\x00" * 12 + b"\x05ab", 12, "claims 5 bytes"),                   # label past the end
    (b"\x00" * 12 + b"\x03abc", 12, "past the end"),                    # no terminating root label
    (b"\x00" * 12 + b"\x40abc\x00", 12, "label type 0x40"),             # label length 64: reserved bits
    (b"\x00" * 12 + b"\xc0", 12, "cut off"),                            # half a pointer
    (b"\x00" * 12 + b"\xc0\xff", 12, "points to 255"),                   # past the end of the message
    (b"\x00" * 12 + (b"\x3f" + b"a" * 63) * 4 + b"\x00", 12, "longer than 255"),
])
def test_a_malformed_name_raises_format_error_saying_why(data, offset, reason):
    with pytest.raises(FormatError, match=reason):
        decode_name(data, offset)


def test_a_chain_of_backward_pointers_is_fine_but_a_cycle_is_not():
    ok = b"\x00" * 12 + b"\x01a\x00" + b"\x01b\xc0\x0c" + b"\x01c\xc0\x0f"
    assert str(decode_name(ok, 19)[0]) == "c.b.a."
    cycle = b"\x00" * 12 + b"\x01a\xc0\x11" + b"\x01b\xc0\x0c"   # a -> (b -> a -> ...)
    with pytest.raises(FormatError):
        decode_name(cycle, 12)


def header(id_=1, flags=0x0100, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", id_, flags, qd, an, ns, ar)


QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"


@pytest.mark.parametrize("data, reason", [
    (b"\x00" * 11, "shorter than the 12-byte header"),
    (header(qd=2) + QUESTION, "past the end"),                            # QDCOUNT says 2, one is there
    (header() + QUESTION[:-2], "QTYPE/QCLASS"),                                  # cut in the question
    (header() + QUESTION + b"\x00", "1 bytes left"),                      # trailing byte
    (header(an=1) + QUESTION + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x05" + b"\x01" * 5,
     "A RDATA must be 4 bytes"),
    (header(an=1) + QUESTION + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x09\x01",
     "claims 9 bytes"),
    (header(ar=2) + QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" * 2, "more than one OPT"),
    (header(an=1) + QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", "outside the additional"),
    (header(ar=1) + QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x03\x00\x0a\x00", "cut off"),
    (header(an=1) + QUESTION + b"\xc0\x0c\x00\x02\x00\x01\x00\x00\x00\x05\x00\x03\xc0\x0c\x00",
     "leaves 1 bytes after the NS"),
])
def test_a_malformed_message_raises_format_error_saying_why(data, reason):
    with pytest.raises(FormatError, match=reason):
        Message.from_wire(data)


def test_a_response_round_trips_through_our_own_codec():
    www = Name.from_text("www.example.com")
    soa = SOA(Name.from_text("ns1.example.com"), Name.from_text("h.example.com"), 1, 2, 3, 4, 5)
    response = Message(Header(id=7, qr=True, aa=True, rd=True), [Question(www, 1)],
                       answers=[record(www, 5, A("192.0.2.10")), record(www, 5, AAAA("2001:db8::10"))],
                       authority=[record("example.com", 8, NS(Name.from_text("ns1.example.com")))],
                       additional=[record("example.com", 5, MX(10, Name.from_text("mail.example.com"))),
                                   record("example.com", 5, TXT((b"v=spf1 -all", b""))),
                                   record("example.com", 4, soa),
                                   record("example.com", 5, Opaque(65280, b"\x01\x02"))],
                       edns=Edns(payload=1232, do=True, options=((10, b"12345678"),)))
    decoded = Message.from_wire(response.to_wire())
    assert decoded == response


def test_an_extended_rcode_is_split_between_header_and_opt():
    message = Message(Header(qr=True), edns=Edns())
    message.set_rcode(Rcode.BADVERS)
    decoded = Message.from_wire(message.to_wire())
    assert decoded.header.rcode == 0 and decoded.edns.ext_rcode == 1 and decoded.rcode == Rcode.BADVERS


def test_an_answer_too_big_for_the_limit_comes_back_truncated_with_the_question():
    name = Name.from_text("big.example.com")
    response = Message(Header(id=9, qr=True, aa=True), [Question(name, 16)],
                       answers=[record(name, 5, TXT((b"x" * 200,))) for _ in range(5)])
    assert len(response.to_wire()) > 512
    truncated = Message.from_wire(response.to_wire(limit=512))
    assert truncated.header.tc and truncated.answers == [] and truncated.questions == response.questions


def test_the_cache_key_ignores_qname_case_but_not_qtype_bytes_that_look_like_letters():
    def query(name: bytes, qtype: int) -> bytes:
        return header() + name + struct.pack("!HH", qtype, 1)

    upper = parse_question(query(b"\x03WWW\x07example\x03com\x00", 65))   # 65 = HTTPS = "A" in ASCII
    lower = parse_question(query(b"\x03www\x07example\x03com\x00", 65))
    other = parse_question(query(b"\x03www\x07example\x03com\x00", 97))
    assert upper[0] == lower[0] != other[0]


def test_a_cached_answer_is_patched_with_the_querys_id_flags_and_qname_case():
    cached = header(id_=0, flags=0x8400) + QUESTION
    query = header(id_=0xBEEF, flags=0x0110) + QUESTION.replace(b"www", b"WwW")
    _, name_end, _ = parse_question(query)
    patched = Message.from_wire(patch(cached, query, name_end))
    assert patched.header.id == 0xBEEF and patched.header.rd and patched.header.cd and patched.header.aa
    assert patched.questions[0].name.labels[0] == b"WwW"


def test_unusual_queries_leave_the_fast_path():
    assert parse_question(header(flags=0x2000) + QUESTION) is None                 # opcode NOTIFY
    assert parse_question(header() + QUESTION[:-4] + b"\x00\xfc\x00\x01") is None  # AXFR
    assert parse_question(header() + b"\xc0\x0c\x00\x01\x00\x01") is None          # compressed QNAME
    opt_v1 = b"\x00\x00\x29\x04\xd0\x00\x01\x00\x00\x00\x00"                       # EDNS version 1
    assert parse_question(header(ar=1) + QUESTION + opt_v1) is None
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"
    assert parse_question(header(ar=1) + QUESTION + opt)[2] == 1232
