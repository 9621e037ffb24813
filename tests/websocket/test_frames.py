"""Codec tests for frames (RFC 6455 §5), starting from the RFC's own example bytes (§5.7)."""

from __future__ import annotations

import os

import pytest

from learn_websocket.frames import (
    CloseCode,
    Frame,
    FrameParser,
    Opcode,
    ProtocolError,
    apply_mask,
    build_close_payload,
    close_code_is_sendable,
    parse_close_payload,
    serialize,
)

pytestmark = pytest.mark.pure

RFC_MASK = bytes.fromhex("37fa213d")

# §5.7 Examples: (description, frame, mask, bytes on the wire)
RFC_EXAMPLES = [
    ("unmasked text 'Hello'", Frame(True, Opcode.TEXT, b"Hello"), None, "81 05 48 65 6c 6c 6f"),
    ("masked text 'Hello'", Frame(True, Opcode.TEXT, b"Hello"), RFC_MASK,
     "81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    ("first fragment 'Hel'", Frame(False, Opcode.TEXT, b"Hel"), None, "01 03 48 65 6c"),
    ("last fragment 'lo'", Frame(True, Opcode.CONT, b"lo"), None, "80 02 6c 6f"),
    ("unmasked ping 'Hello'", Frame(True, Opcode.PING, b"Hello"), None, "89 05 48 65 6c 6c 6f"),
    ("masked pong 'Hello'", Frame(True, Opcode.PONG, b"Hello"), RFC_MASK,
     "8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
]


@pytest.mark.parametrize(("frame", "mask", "wire"), [example[1:] for example in RFC_EXAMPLES],
                         ids=[example[0] for example in RFC_EXAMPLES])
def test_rfc_example_serializes_to_the_rfc_bytes(frame: Frame, mask: bytes | None, wire: str) -> None:
    assert serialize(frame, mask) == bytes.fromhex(wire)


@pytest.mark.parametrize(("frame", "mask", "wire"), [example[1:] for example in RFC_EXAMPLES],
                         ids=[example[0] for example in RFC_EXAMPLES])
def test_rfc_example_parses_back_to_its_frame(frame: Frame, mask: bytes | None, wire: str) -> None:
    parser = FrameParser(expect_masked=mask is not None)
    assert list(parser.feed(bytes.fromhex(wire))) == [frame]


def test_256_byte_binary_uses_the_16_bit_length() -> None:
    payload = bytes(range(256))
    wire = serialize(Frame(True, Opcode.BINARY, payload))
    assert wire[:4] == bytes.fromhex("82 7e 01 00")  # §5.7: 0x82 0x7E 0x0100
    assert list(FrameParser(expect_masked=False).feed(wire)) == [Frame(True, Opcode.BINARY, payload)]


def test_64_kib_binary_uses_the_64_bit_length() -> None:
    payload = os.urandom(65536)
    wire = serialize(Frame(True, Opcode.BINARY, payload))
    assert wire[:10] == bytes.fromhex("82 7f 00 00 00 00 00 01 00 00")  # §5.7
    assert list(FrameParser(expect_masked=False).feed(wire)) == [Frame(True, Opcode.BINARY, payload)]


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 100_000])
def test_lengths_on_each_side_of_the_7_16_64_bit_boundaries_round_trip(length: int) -> None:
    payload = os.urandom(length)
    mask = os.urandom(4)
    parser = FrameParser(expect_masked=True)
    assert list(parser.feed(serialize(Frame(True, Opcode.BINARY, payload), mask))) == [
        Frame(True, Opcode.BINARY, payload)]


def test_a_frame_fed_byte_by_byte_comes_out_once_complete() -> None:
    wire = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
    parser = FrameParser(expect_masked=True)
    for byte in wire[:-1]:
        assert list(parser.feed(bytes([byte]))) == []
    assert list(parser.feed(wire[-1:])) == [Frame(True, Opcode.TEXT, b"Hello")]


def test_many_frames_in_one_read_all_come_out_in_order() -> None:
    frames = [Frame(True, Opcode.TEXT, b"%d" % n) for n in range(100)]
    wire = b"".join(serialize(frame, os.urandom(4)) for frame in frames)
    parser = FrameParser(expect_masked=True)
    # and split at an awkward place: the tail of one read starts the next frame
    assert list(parser.feed(wire[:301])) + list(parser.feed(wire[301:])) == frames


def test_masking_twice_gives_back_the_payload() -> None:
    for length in range(0, 11):
        data = os.urandom(length)
        assert apply_mask(apply_mask(data, RFC_MASK), RFC_MASK) == data


def parse_error(wire: bytes, *, expect_masked: bool = False, max_size: int | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        list(FrameParser(expect_masked=expect_masked, max_size=max_size).feed(wire))
    return caught.value


@pytest.mark.parametrize("first_byte", [0xC1, 0xA1, 0x91, 0xF1])
def test_reserved_bits_without_an_extension_are_a_protocol_error(first_byte: int) -> None:
    error = parse_error(bytes([first_byte, 0x00]))
    assert error.close_code == CloseCode.PROTOCOL_ERROR
    assert "reserved bits" in error.reason


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_unknown_opcodes_are_a_protocol_error(opcode: int) -> None:
    error = parse_error(bytes([0x80 | opcode, 0x00]))
    assert (error.close_code, error.reason) == (1002, f"unknown opcode {opcode:#x}")


def test_fragmented_control_frame_is_a_protocol_error() -> None:
    assert "fragmented PING" in parse_error(bytes([0x09, 0x00])).reason


def test_control_frame_over_125_bytes_is_a_protocol_error_as_soon_as_its_header_arrives() -> None:
    error = parse_error(bytes([0x89, 0x7E, 0x00, 0x7E]))  # 126 bytes announced, none sent
    assert error.close_code == 1002 and "over 125" in error.reason


def test_server_rejects_unmasked_client_frame() -> None:
    error = parse_error(bytes.fromhex("81 05 48 65 6c 6c 6f"), expect_masked=True)
    assert (error.close_code, error.reason) == (1002, "client frame not masked")


def test_client_rejects_masked_server_frame() -> None:
    error = parse_error(bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), expect_masked=False)
    assert (error.close_code, error.reason) == (1002, "server frame masked")


def test_64_bit_length_with_its_top_bit_set_is_a_protocol_error() -> None:
    error = parse_error(bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]))
    assert error.close_code == 1002 and "top bit" in error.reason


def test_frame_over_max_size_is_1009_before_its_payload_arrives() -> None:
    error = parse_error(bytes([0x82, 0x7E, 0x10, 0x00]), max_size=1000)  # 4096 bytes announced
    assert error.close_code == CloseCode.MESSAGE_TOO_BIG


def test_frames_before_a_bad_one_are_still_returned() -> None:
    parser = FrameParser(expect_masked=False)
    frames = []
    with pytest.raises(ProtocolError):
        for frame in parser.feed(bytes.fromhex("81 02 68 69") + bytes([0x83, 0x00])):
            frames.append(frame)
    assert frames == [Frame(True, Opcode.TEXT, b"hi")]


def test_empty_close_payload_means_no_status_received() -> None:
    assert parse_close_payload(b"") == (CloseCode.NO_STATUS_RCVD, "")


def test_close_payload_round_trips_code_and_utf8_reason() -> None:
    payload = build_close_payload(CloseCode.GOING_AWAY, "au revoir, café")
    assert payload[:2] == b"\x03\xe9"
    assert parse_close_payload(payload) == (1001, "au revoir, café")


def test_one_byte_close_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_close_payload(b"\x03")
    assert caught.value.close_code == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                  3000, 3999, 4000, 4999])
def test_valid_close_codes_are_accepted(code: int) -> None:
    assert close_code_is_sendable(code)
    assert parse_close_payload(code.to_bytes(2, "big")) == (code, "")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_are_a_protocol_error(code: int) -> None:
    assert not close_code_is_sendable(code)
    with pytest.raises(ProtocolError) as caught:
        parse_close_payload(code.to_bytes(2, "big"))
    assert caught.value.close_code == 1002


def test_close_reason_that_is_not_utf8_is_1007() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_close_payload(b"\x03\xe8\xff\xfe")
    assert caught.value.close_code == CloseCode.INVALID_PAYLOAD


def test_building_a_close_refuses_reserved_codes_and_long_reasons() -> None:
    assert build_close_payload(None) == b""
    with pytest.raises(ValueError, match="1006"):
        build_close_payload(1006)
    with pytest.raises(ValueError, match="123"):
        build_close_payload(1000, "x" * 124)
    assert len(build_close_payload(1000, "x" * 123)) == 125
