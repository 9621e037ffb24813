"""The frame codec and the protocol's messages and state table, with bytes written by hand."""

from __future__ import annotations

import pytest

from learn_unix_socket.frames import MAX_PAYLOAD, Frame, FrameError, FrameParser, FrameType, serialize
from learn_unix_socket.protocol import (
    AskLog,
    Attach,
    Detach,
    Input,
    ListSessions,
    ProtocolError,
    Resize,
    ServerConnection,
    decode_request,
    encode_request,
)

pytestmark = pytest.mark.pure


def test_a_frame_is_type_then_big_endian_length_then_payload():
    assert serialize(FrameType.INPUT, b"ls\n") == bytes.fromhex("04 00000003") + b"ls\n"
    assert serialize(FrameType.LIST) == bytes.fromhex("01 00000000")


def test_the_parser_waits_for_a_whole_frame_then_returns_it():
    parser = FrameParser()
    wire = serialize(FrameType.OUTPUT, b"hello")
    assert parser.feed(wire[:3]) == []
    assert parser.feed(wire[3:7]) == []
    assert parser.pending == 7
    assert parser.feed(wire[7:]) == [Frame(FrameType.OUTPUT, b"hello")]
    assert parser.pending == 0


def test_two_frames_in_one_read_come_out_as_two():
    wire = serialize(FrameType.INPUT, b"a") + serialize(FrameType.DETACH)
    assert FrameParser().feed(wire) == [Frame(FrameType.INPUT, b"a"), Frame(FrameType.DETACH)]


def test_an_unknown_type_is_a_frame_error():
    with pytest.raises(FrameError, match="unknown frame type 0x7f"):
        FrameParser().feed(bytes.fromhex("7f 00000000"))


def test_an_oversized_length_is_refused_from_the_header_alone():
    header = bytes([FrameType.INPUT]) + (MAX_PAYLOAD + 1).to_bytes(4, "big")
    with pytest.raises(FrameError, match="announces 65537 bytes"):
        FrameParser().feed(header)  # no payload sent: nothing is buffered first


def test_serialize_refuses_an_oversized_payload():
    with pytest.raises(FrameError):
        serialize(FrameType.OUTPUT, b"x" * (MAX_PAYLOAD + 1))


@pytest.mark.parametrize("request_", [
    Attach("work", 24, 80, ("sh", "-i")), Attach("work", 50, 132), Detach(), Input(b"\x03"),
    Resize(30, 100), ListSessions(), AskLog("work"), AskLog(""),
])
def test_every_request_survives_encode_then_decode(request_):
    (frame,) = FrameParser().feed(encode_request(request_))
    assert decode_request(frame) == request_


def test_attach_payload_is_rows_cols_then_nul_separated_name_and_command():
    assert encode_request(Attach("w", 24, 80, ("sh", "-i")))[5:] == b"\x00\x18\x00\x50w\x00sh\x00-i"


@pytest.mark.parametrize(("frame", "message"), [
    (Frame(FrameType.ATTACH, b"\x00\x18\x00\x50bad name"), "bad session name"),
    (Frame(FrameType.ATTACH, b"\x00\x00\x00\x50w"), "0x80 has no room"),
    (Frame(FrameType.ATTACH, b"\x00"), "malformed ATTACH"),
    (Frame(FrameType.RESIZE, b"\x00\x18"), "RESIZE carries 4 bytes, not 2"),
    (Frame(FrameType.DETACH, b"x"), "DETACH carries no payload"),
    (Frame(FrameType.OUTPUT, b"x"), "OUTPUT is a server-to-client frame"),
    (Frame(FrameType.ATTACH, b"\x00\x18\x00\x50\xff"), "malformed ATTACH"),
])
def test_bad_payloads_are_protocol_errors_that_say_what_is_wrong(frame, message):
    with pytest.raises(ProtocolError, match=message):
        decode_request(frame)


def test_the_connection_follows_its_table():
    conn = ServerConnection()
    assert conn.receive_data(encode_request(ListSessions())) == [ListSessions()]
    assert conn.state == "idle"
    conn.receive_data(encode_request(Attach("w", 24, 80, ("sh",))))
    assert conn.state == "attached"
    conn.receive_data(encode_request(Input(b"ls\n")) + encode_request(Resize(30, 90)))
    conn.receive_data(encode_request(Detach()))
    assert conn.state == "idle"


def test_input_before_attach_names_the_state_and_what_it_accepts():
    expected = r"INPUT is not allowed while idle \(expected: LIST, LOG, ATTACH\)"
    with pytest.raises(ProtocolError, match=expected):
        ServerConnection().receive_data(encode_request(Input(b"x")))


def test_a_second_attach_is_refused():
    conn = ServerConnection()
    conn.receive_data(encode_request(Attach("w", 24, 80, ("sh",))))
    with pytest.raises(ProtocolError, match="ATTACH is not allowed while attached"):
        conn.receive_data(encode_request(Attach("v", 24, 80, ("sh",))))


def test_the_session_exiting_leaves_the_client_idle():
    conn = ServerConnection()
    conn.receive_data(encode_request(Attach("w", 24, 80, ("sh",))))
    conn.session_exited()
    assert conn.state == "idle"
