"""Codec tests for the opening handshake (RFC 6455 §4), with the RFC's own example."""

from __future__ import annotations

import pytest

from learn_websocket.handshake import (
    MAX_HEAD_SIZE,
    HandshakeError,
    accept_key,
    build_error_response,
    build_request,
    build_response,
    offered_subprotocols,
    parse_request,
    parse_response,
    select_subprotocol,
    validate_request,
    validate_response,
)

pytestmark = pytest.mark.pure

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # §1.3: "the sample nonce", base64-encoded
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

RFC_REQUEST = (  # §1.2, without the optional Origin/Protocol lines
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


def request_with(**changes: str | None) -> bytes:
    """The RFC request with some header values replaced (None removes the header)."""
    lines = RFC_REQUEST.decode().split("\r\n")
    out = []
    for line in lines:
        name = line.split(":")[0].replace("-", "_").lower()
        if name in changes:
            if changes[name] is not None:
                out.append(f"{line.split(':')[0]}: {changes[name]}")
        else:
            out.append(line)
    return "\r\n".join(out).encode()


def test_accept_key_matches_the_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_client_request_has_the_rfc_headers_in_order() -> None:
    request = build_request("server.example.com", "/chat", RFC_KEY)
    assert request == RFC_REQUEST


def test_client_request_adds_origin_subprotocols_and_extra_headers() -> None:
    request = parse_request(build_request("h:1", "/", RFC_KEY, origin="http://example.com",
                                          subprotocols=["chat", "superchat"],
                                          extra_headers=[("X-Token", "abc")]))
    assert request.headers.get("Origin") == "http://example.com"
    assert offered_subprotocols(request.headers) == ["chat", "superchat"]
    assert request.headers.get("x-token") == "abc"


def test_server_accepts_the_rfc_request_and_returns_its_key() -> None:
    request = parse_request(RFC_REQUEST)
    assert (request.method, request.target, request.version) == ("GET", "/chat", "HTTP/1.1")
    assert validate_request(request) == RFC_KEY


def test_header_names_and_token_values_are_case_insensitive() -> None:
    head = RFC_REQUEST.replace(b"Upgrade: websocket", b"upgrade: WebSocket")
    head = head.replace(b"Connection: Upgrade", b"CONNECTION: keep-alive, upgrade")
    assert validate_request(parse_request(head)) == RFC_KEY


@pytest.mark.parametrize(("changes", "status", "words"), [
    ({"upgrade": None}, 400, "Upgrade"),
    ({"upgrade": "h2c"}, 400, "Upgrade"),
    ({"connection": "keep-alive"}, 400, "Connection"),
    ({"host": None}, 400, "Host"),
    ({"sec_websocket_key": None}, 400, "Sec-WebSocket-Key"),
    ({"sec_websocket_key": "c2hvcnQ="}, 400, "16 bytes"),
    ({"sec_websocket_key": "not base64!!"}, 400, "16 bytes"),
    ({"sec_websocket_version": "8"}, 426, "Sec-WebSocket-Version"),
    ({"sec_websocket_version": None}, 426, "Sec-WebSocket-Version"),
])
def test_server_rejects_a_bad_request_with_the_right_status(changes, status, words) -> None:
    with pytest.raises(HandshakeError) as caught:
        validate_request(parse_request(request_with(**changes)))
    assert caught.value.status == status
    assert words in caught.value.reason


def test_wrong_version_answer_is_426_and_names_version_13() -> None:
    with pytest.raises(HandshakeError) as caught:
        validate_request(parse_request(request_with(sec_websocket_version="7")))
    response = parse_response(build_error_response(caught.value).split(b"\r\n\r\n")[0] + b"\r\n\r\n")
    assert response.status == 426
    assert response.headers.get("Sec-WebSocket-Version") == "13"


def test_server_rejects_post_and_http_1_0() -> None:
    with pytest.raises(HandshakeError, match="GET") as caught:
        validate_request(parse_request(RFC_REQUEST.replace(b"GET", b"POST", 1)))
    assert caught.value.status == 405
    with pytest.raises(HandshakeError, match="HTTP/1.1"):
        validate_request(parse_request(RFC_REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0", 1)))


@pytest.mark.parametrize("garbage", [
    b"\r\n\r\n",
    b"hello there\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded: line\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
])
def test_garbage_instead_of_a_request_is_a_400(garbage: bytes) -> None:
    with pytest.raises(HandshakeError) as caught:
        parse_request(garbage)
    assert caught.value.status == 400


def test_oversized_head_is_refused() -> None:
    head = RFC_REQUEST[:-2] + b"X-Padding: " + b"a" * MAX_HEAD_SIZE + b"\r\n\r\n"
    with pytest.raises(HandshakeError) as caught:
        parse_request(head)
    assert caught.value.status == 431


def test_subprotocol_selection_follows_the_clients_preference() -> None:
    assert select_subprotocol(["v2.chat", "chat"], ["chat", "v2.chat"]) == "v2.chat"
    assert select_subprotocol(["mqtt"], ["chat"]) is None
    assert select_subprotocol([], ["chat"]) is None


def test_server_response_is_101_with_the_rfc_accept_value() -> None:
    response = build_response(RFC_KEY, "chat")
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    assert response.endswith(b"Sec-WebSocket-Protocol: chat\r\n\r\n")


def test_client_accepts_a_valid_101_and_returns_the_subprotocol() -> None:
    response = parse_response(build_response(RFC_KEY, "chat"))
    assert validate_response(response, RFC_KEY, ["chat"]) == "chat"
    assert validate_response(parse_response(build_response(RFC_KEY)), RFC_KEY) is None


@pytest.mark.parametrize(("response", "words"), [
    (b"HTTP/1.1 200 OK\r\n\r\n", "not 101"),
    (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "Upgrade"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "Connection"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Accept: wrong=\r\n\r\n", "does not match"),
    (build_response(RFC_KEY, "mqtt"), "did not offer"),
    (build_response(RFC_KEY, extra_headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]),
     "extension"),
])
def test_client_rejects_a_bad_101(response: bytes, words: str) -> None:
    with pytest.raises(HandshakeError, match=words):
        validate_response(parse_response(response), RFC_KEY, ["chat"])


def test_client_rejects_a_status_line_that_is_not_http() -> None:
    with pytest.raises(HandshakeError, match="not an HTTP status line"):
        parse_response(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")


def test_repeated_headers_are_joined_with_commas() -> None:
    extra = b"Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n\r\n"
    request = parse_request(RFC_REQUEST[:-2] + extra)
    assert offered_subprotocols(request.headers) == ["a", "b"]


def test_error_response_has_a_body_that_says_what_was_wrong() -> None:
    response = build_error_response(HandshakeError(400, "missing Host header"))
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"missing Host header" in body
    assert f"Content-Length: {len(body)}".encode() in head
