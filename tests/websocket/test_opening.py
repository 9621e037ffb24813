"""The opening handshake sequenced without sockets: a ClientOpening and a ServerOpening talking in memory."""

from __future__ import annotations

import pytest

from learn_websocket.frames import Opcode, encode
from learn_websocket.opening import ClientOpening, ServerOpening
from learn_websocket.protocol import CONNECTION, Connection, Role, State, TextMessage
from wirelab_common.state_table import BadTransition, Machine

pytestmark = pytest.mark.pure

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def client(**options) -> ClientOpening:
    return ClientOpening("server.example.com", "/chat", RFC_KEY, **options)


def test_both_sides_start_connecting_and_reach_open_on_the_same_table() -> None:
    c, s = client(subprotocols=["chat"]), ServerOpening(subprotocols=["chat"])
    assert c.state is State.CONNECTING and s.state is State.CONNECTING
    request = c.data_to_send()
    assert request.startswith(b"GET /chat HTTP/1.1\r\n")
    for byte in request:  # a head that arrives a byte at a time is only answered once complete
        assert s.state is State.CONNECTING
        s.receive_data(bytes([byte]))
    assert s.state is State.OPEN and s.subprotocol == "chat"
    response = s.data_to_send()
    assert f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n".encode() in response
    c.receive_data(response)
    assert c.state is State.OPEN and c.subprotocol == "chat"
    assert c.connection.role is Role.CLIENT and s.connection.role is Role.SERVER
    assert c.connection.machine is c.machine  # one machine per connection, from CONNECTING on


def test_bytes_after_the_head_are_handed_on_as_early_data() -> None:
    c, s = client(), ServerOpening()
    s.receive_data(c.data_to_send())
    frame = encode(Opcode.TEXT, b"welcome")
    c.receive_data(s.data_to_send() + frame)  # the server's first frame in the same read as its 101
    assert c.early_data == frame
    c.connection.receive_data(c.early_data)
    assert c.connection.events_received() == [TextMessage("welcome")]


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"HELLO? IS THIS FTP?\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
])
def test_a_bad_request_is_answered_with_an_http_error_and_the_state_is_closed(request_bytes, status) -> None:
    s = ServerOpening()
    s.receive_data(request_bytes)
    assert s.state is State.CLOSED and s.error.status == status and s.connection is None
    assert s.data_to_send().startswith(f"HTTP/1.1 {status} ".encode())
    s.receive_data(b"more")  # ignored: the handshake is over
    assert s.data_to_send() == b""


def test_a_server_that_waits_too_long_answers_408_and_eof_mid_head_400() -> None:
    slow, cut = ServerOpening(open_timeout=3), ServerOpening()
    slow.receive_data(b"GET / HTTP/1.1\r\n")
    slow.time_out()
    cut.receive_data(b"GET / HTTP/1.1\r\n")
    cut.receive_eof()
    assert (slow.state, slow.error.status) == (State.CLOSED, 408)
    assert (cut.state, cut.error.status) == (State.CLOSED, 400)
    assert slow.data_to_send().startswith(b"HTTP/1.1 408 ")


def test_the_client_fails_on_a_wrong_accept_or_a_non_101() -> None:
    c = client()
    c.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n")
    assert c.state is State.CLOSED and "does not match our key" in c.error.reason
    refused = client()
    refused.receive_data(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert refused.state is State.CLOSED and refused.error.status == 403
    assert refused.data_to_send() == client().data_to_send()  # only the request ever went out


def test_the_connecting_state_accepts_only_the_handshake_events() -> None:
    with pytest.raises(BadTransition) as caught:
        CONNECTION.next(State.CONNECTING, "send_data")
    assert caught.value.expected == ["establish", "fail", "receive_eof"]
    with pytest.raises(ValueError, match="starts OPEN, not CONNECTING"):
        Connection(Role.SERVER, machine=Machine(CONNECTION, State.CONNECTING))
