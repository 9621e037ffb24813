"""The sans-I/O HTTP/1.1 reader and writer (learn_proxy.http11), with RFC 9112's own shapes."""

from __future__ import annotations

import pytest

from learn_proxy import http11
from learn_proxy.http11 import NEED_DATA, PAUSED, Data, EndOfMessage, ProtocolError, Reader, Request, Response

pytestmark = pytest.mark.pure


def events(reader: Reader, *pieces: bytes) -> list:
    """Feed the pieces one by one, collecting every event until the reader needs more."""
    out = []
    for piece in pieces:
        reader.receive_data(piece)
        while (event := reader.next_event()) not in (NEED_DATA, PAUSED):
            out.append(event)
    return out


def body(evts: list) -> bytes:
    return b"".join(e.data for e in evts if isinstance(e, Data))


def test_a_request_with_content_length_arrives_in_pieces_without_being_held_whole():
    reader = Reader("request")
    evts = events(reader, b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello", b"world")
    assert isinstance(evts[0], Request) and evts[0].method == "POST" and evts[0].target == "/upload"
    assert [e.data for e in evts if isinstance(e, Data)] == [b"hello", b"world"]
    assert isinstance(evts[-1], EndOfMessage)


def test_a_chunked_body_is_decoded_across_any_split():
    wire = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    for split in range(1, len(wire)):
        evts = events(Reader("request"), wire[:split], wire[split:])
        assert body(evts) == b"hello world", split
        assert isinstance(evts[-1], EndOfMessage)


def test_keep_alive_reads_the_next_request_after_start_next_cycle():
    reader = Reader("request")
    first = events(reader, b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [type(e) for e in first] == [Request, EndOfMessage] and reader.next_event() is PAUSED
    reader.start_next_cycle()
    assert reader.next_event() == Request("GET", "/b", "HTTP/1.1", (("Host", "a"),))


def test_keep_alive_defaults_differ_between_http_1_0_and_1_1():
    assert http11.keep_alive("HTTP/1.1", ()) and not http11.keep_alive("HTTP/1.1", (("Connection", "close"),))
    assert not http11.keep_alive("HTTP/1.0", ()) and http11.keep_alive(
        "HTTP/1.0", (("Connection", "Keep-Alive"),)
    )


def test_a_response_to_head_and_a_304_have_no_body_whatever_their_content_length():
    reader = Reader("response")
    reader.expect_response_to("HEAD")
    evts = events(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    assert [type(e) for e in evts] == [Response, EndOfMessage]
    evts = events(Reader("response"), b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
    assert [type(e) for e in evts] == [Response, EndOfMessage]


def test_a_response_without_length_runs_until_the_connection_closes():
    reader = Reader("response")
    evts = events(reader, b"HTTP/1.1 200 OK\r\n\r\npart one ", b"part two", b"")
    assert body(evts) == b"part one part two" and isinstance(evts[-1], EndOfMessage)


@pytest.mark.parametrize(
    ("wire", "status", "words"),
    [
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            "both Transfer-Encoding and Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            400,
            "2 Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            400,
            "2 Content-Length",
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400, "obs-fold"),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", 400, "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400, "bare CR"),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before ':'"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "2 Host fields"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "0 Host fields"),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            400,
            "without chunked last",
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not implemented"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "bad Content-Length"),
        (b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400, "malformed request-line"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "not supported"),
    ],
)
def test_the_strict_reader_refuses_every_ambiguous_head(wire, status, words):
    with pytest.raises(ProtocolError) as caught:
        events(Reader("request"), wire)
    assert caught.value.status == status and words in caught.value.reason


@pytest.mark.parametrize(
    "wire",
    [
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n",
    ],
)
def test_bad_chunk_framing_is_refused(wire):
    with pytest.raises(ProtocolError) as caught:
        events(Reader("request"), wire)
    assert caught.value.status == 400


def test_a_head_over_the_limit_is_431_even_before_it_ends():
    reader = Reader("request", max_head=1024)
    with pytest.raises(ProtocolError) as caught:
        events(reader, b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 2000)
    assert caught.value.status == 431


def test_the_lenient_reader_accepts_what_the_attacks_rely_on():
    reader = Reader("request", strict=False)
    evts = events(
        reader,
        b"POST / HTTP/1.1\nHost: a\nX-A: one\n two\nContent-Length: 3\n"
        b"Transfer-Encoding: chunked\n\n1\r\nx\r\n0\r\n\r\n",
    )
    assert evts[0].headers[1] == ("X-A", "one two")
    assert reader.framing == "chunked" and body(evts) == b"x"  # Transfer-Encoding won over Content-Length


def test_the_leftover_bytes_after_a_head_are_kept_for_the_next_protocol():
    reader = Reader("response")
    events(reader, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
    assert reader.trailing_data() == b"\x81\x02hi"


def test_writing_a_head_and_chunks():
    assert http11.response_head(200, "OK", (("A", "1"),)) == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    assert http11.chunk(b"hello") + http11.LAST_CHUNK == b"5\r\nhello\r\n0\r\n\r\n"
    assert http11.chunk(b"") == b""
