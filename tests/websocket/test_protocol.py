"""A client and a server Connection talking in memory: no sockets, exact bytes (RFC 6455 §5-§7)."""

from __future__ import annotations

import pytest

from learn_websocket.frames import CloseCode, Frame, Opcode, encode
from learn_websocket.protocol import (
    BinaryMessage,
    Closed,
    Connection,
    Ping,
    Pong,
    Role,
    State,
    TextMessage,
)
from wirelab_common.state_table import BadTransition

pytestmark = pytest.mark.pure

RFC_MASK = bytes.fromhex("37fa213d")


def pair(**server_options) -> tuple[Connection, Connection]:
    """A client (masking with the RFC's key) and a server, both keeping their frames."""
    client = Connection(Role.CLIENT, mask_source=lambda size: RFC_MASK, record_frames=True)
    server = Connection(Role.SERVER, record_frames=True, **server_options)
    return client, server


def pump(source: Connection, target: Connection, *, byte_by_byte: bool = False) -> list:
    """Move everything ``source`` wants to send into ``target``; return ``target``'s events."""
    data = source.data_to_send()
    if byte_by_byte:
        for byte in data:
            target.receive_data(bytes([byte]))
    else:
        target.receive_data(data)
    return target.events_received()


def client_frame(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    """A raw client frame, for sending what a correct Connection would refuse to send."""
    return encode(opcode, payload, fin, RFC_MASK)


def assert_failed_with(server: Connection, code: int) -> None:
    events = server.events_received()
    assert events[-1] == Closed(code, events[-1].reason)
    assert server.state is State.CLOSED and server.failed and server.should_close_transport
    close_frame = server.data_to_send()  # §7.1.7: the close frame carries the error's code
    assert close_frame[0] == 0x88 and close_frame[2:4] == code.to_bytes(2, "big")


def test_client_text_is_masked_with_the_injected_key() -> None:
    client, _ = pair()
    client.send_text("Hello")
    assert client.data_to_send() == bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")  # §5.7


def test_server_text_is_not_masked() -> None:
    _, server = pair()
    server.send_text("Hello")
    assert server.data_to_send() == bytes.fromhex("81 05 48 65 6c 6c 6f")  # §5.7


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_messages_cross_in_both_directions(byte_by_byte: bool) -> None:
    client, server = pair()
    client.send_text("héllo")
    client.send_binary(b"\x00\xff")
    events = pump(client, server, byte_by_byte=byte_by_byte)
    assert events == [TextMessage("héllo"), BinaryMessage(b"\x00\xff")]
    server.send_text("back")
    assert pump(server, client, byte_by_byte=byte_by_byte) == [TextMessage("back")]


def test_fragmented_message_uses_the_rfc_frames_and_is_reassembled() -> None:
    client, server = pair()
    server.send_text("Hello", fragment_size=3)
    assert server.data_to_send() == bytes.fromhex("01 03 48 65 6c 80 02 6c 6f")  # §5.7
    server.send_binary(bytes(10), fragment_size=4)
    assert [frame.opcode for frame in server.frames_sent[2:]] == [Opcode.BINARY, Opcode.CONT, Opcode.CONT]
    assert pump(server, client) == [BinaryMessage(bytes(10))]


def test_text_split_inside_a_character_is_reassembled_byte_by_byte() -> None:
    client, server = pair()
    client.send_text("κόσμε €", fragment_size=1)  # every byte its own frame
    assert pump(client, server, byte_by_byte=True) == [TextMessage("κόσμε €")]


def test_control_frames_may_arrive_between_fragments() -> None:
    client, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, b"Hel", fin=False) + client_frame(Opcode.PING, b"?")
                        + client_frame(Opcode.CONT, b"lo"))
    assert server.events_received() == [Ping(b"?"), TextMessage("Hello")]
    assert server.data_to_send() == bytes.fromhex("8a 01 3f")  # the pong, answered at once


def test_ping_is_answered_with_a_pong_carrying_the_same_data() -> None:
    client, server = pair()
    client.send_ping(b"Hello")
    assert pump(client, server) == [Ping(b"Hello")]
    assert server.data_to_send() == bytes.fromhex("8a 05 48 65 6c 6c 6f")  # §5.5.3
    server.send_ping(b"x")
    assert pump(server, client) == [Ping(b"x")]
    assert pump(client, server) == [Pong(b"x")]


def test_auto_pong_can_be_disabled_to_play_a_dead_peer() -> None:
    client = Connection(Role.CLIENT, auto_pong=False, mask_source=lambda size: RFC_MASK)
    server = Connection(Role.SERVER)
    server.send_ping(b"alive?")
    assert pump(server, client) == [Ping(b"alive?")]
    assert client.data_to_send() == b""


def test_continuation_without_a_message_is_a_protocol_error() -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.CONT, b"lo"))
    assert_failed_with(server, CloseCode.PROTOCOL_ERROR)


def test_new_data_frame_inside_a_fragmented_message_is_a_protocol_error() -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, b"Hel", fin=False) + client_frame(Opcode.TEXT, b"lo"))
    assert_failed_with(server, CloseCode.PROTOCOL_ERROR)


def test_server_rejects_unmasked_client_frame() -> None:
    _, server = pair()
    server.receive_data(bytes.fromhex("81 05 48 65 6c 6c 6f"))
    assert_failed_with(server, CloseCode.PROTOCOL_ERROR)
    assert server.close_reason == "client frame not masked"


def test_invalid_utf8_text_is_1007() -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, b"\xce\xba\xff"))
    assert_failed_with(server, CloseCode.INVALID_PAYLOAD)


def test_invalid_utf8_fails_at_the_fragment_that_breaks_it_not_at_the_end() -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, "κ".encode(), fin=False))
    # F4 90 would start a code point above U+10FFFF: no later byte can make it valid.
    # (CPython's decoder spots most such prefixes at once; a surrogate's ED A0 it
    # refuses only when its third byte arrives.)
    server.receive_data(client_frame(Opcode.CONT, b"\xf4\x90", fin=False))
    assert_failed_with(server, CloseCode.INVALID_PAYLOAD)  # before any final fragment arrived


def test_character_cut_off_by_the_end_of_a_message_is_1007() -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, b"\xce", fin=False) + client_frame(Opcode.CONT, b""))
    assert_failed_with(server, CloseCode.INVALID_PAYLOAD)


def test_message_over_max_size_is_1009_whole_or_fragmented() -> None:
    _, server = pair(max_message_size=10)
    server.receive_data(client_frame(Opcode.BINARY, bytes(11)))
    assert_failed_with(server, CloseCode.MESSAGE_TOO_BIG)
    _, server = pair(max_message_size=10)
    server.receive_data(client_frame(Opcode.BINARY, bytes(6), fin=False))
    server.receive_data(client_frame(Opcode.CONT, bytes(6)))
    assert_failed_with(server, CloseCode.MESSAGE_TOO_BIG)


def test_after_a_protocol_error_nothing_more_is_parsed() -> None:
    _, server = pair()
    server.receive_data(bytes([0x83, 0x80]) + RFC_MASK)  # unknown opcode 3
    assert_failed_with(server, CloseCode.PROTOCOL_ERROR)
    server.receive_data(client_frame(Opcode.TEXT, b"too late"))
    assert server.events_received() == []
    assert server.data_to_send() == b""


def test_close_handshake_started_by_the_client() -> None:
    client, server = pair()
    client.send_close(CloseCode.NORMAL_CLOSURE, "bye")
    assert client.state is State.CLOSING
    assert pump(client, server) == [Closed(1000, "bye")]
    assert server.state is State.CLOSED
    assert server.should_close_transport  # §7.1.1: the server closes TCP first
    assert pump(server, client) == [Closed(1000, "")]  # the echo carries the code only
    assert client.state is State.CLOSED
    assert not client.should_close_transport  # the client waits for the server's FIN...
    client.receive_eof()
    assert client.should_close_transport  # ...and closes once it came
    assert client.events_received() == []  # no second Closed event


def test_close_handshake_started_by_the_server() -> None:
    client, server = pair()
    server.send_close(CloseCode.GOING_AWAY, "restart")
    assert pump(server, client) == [Closed(1001, "restart")]
    assert pump(client, server) == [Closed(1001, "")]
    assert server.state is State.CLOSED and server.should_close_transport


def test_empty_close_is_answered_with_an_empty_close() -> None:
    client, server = pair()
    client.send_close(None)
    assert pump(client, server) == [Closed(CloseCode.NO_STATUS_RCVD, "")]
    assert server.data_to_send() == bytes.fromhex("88 00")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2000, 5000])
def test_close_with_an_invalid_code_is_answered_with_1002(code: int) -> None:
    _, server = pair()
    server.receive_data(client_frame(Opcode.CLOSE, code.to_bytes(2, "big")))
    assert_failed_with(server, CloseCode.PROTOCOL_ERROR)


def test_frames_after_a_close_are_ignored() -> None:
    # Autobahn case 7.1.5: fragment, close, then the rest of the message.
    _, server = pair()
    server.receive_data(client_frame(Opcode.TEXT, b"fragment1", fin=False)
                        + client_frame(Opcode.CLOSE, b"\x03\xe8") + client_frame(Opcode.CONT, b"fragment2"))
    assert server.events_received() == [Closed(1000, "")]
    assert server.data_to_send() == bytes.fromhex("88 02 03 e8")
    assert not server.failed


def test_eof_without_a_close_frame_is_1006() -> None:
    _, server = pair()
    server.receive_eof()
    assert server.events_received() == [Closed(CloseCode.ABNORMAL_CLOSURE, server.close_reason)]
    assert server.state is State.CLOSED


def test_nothing_but_the_close_may_be_sent_after_a_close() -> None:
    client, _ = pair()
    client.send_close()
    with pytest.raises(BadTransition, match=r"'send_data' is not allowed in state CLOSING \(expected: "):
        client.send_text("late")
    with pytest.raises(BadTransition, match=r"'send_close \(a second time\)' is not allowed in state CLOS"):
        client.send_close()


def test_illegal_transition_names_the_expected_and_actual_states() -> None:
    client, server = pair()
    client.send_close()
    pump(client, server)
    with pytest.raises(BadTransition) as caught:
        server._transition("receive_close")
    assert str(caught.value) == ("connection: 'receive_close' is not allowed in state CLOSED "
                                 "(expected: receive_eof)")


def test_control_payload_over_125_bytes_is_refused_on_send() -> None:
    client, _ = pair()
    with pytest.raises(ValueError, match="125"):
        client.send_ping(bytes(126))


def test_frames_are_recorded_for_the_trace_only_when_asked() -> None:
    assert Connection(Role.SERVER).record_frames is False  # the fast path keeps nothing
    client, server = pair()
    client.send_text("Hi", fragment_size=1)
    pump(client, server)
    expected = [Frame(False, Opcode.TEXT, b"H"), Frame(True, Opcode.CONT, b"i")]
    assert client.frames_sent == expected
    assert server.frames_received == expected
