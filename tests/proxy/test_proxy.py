"""Our proxy as a process between real clients and the two real backends."""

from __future__ import annotations

import re
import socket
import sys
import threading

import httpx
import pytest
import websockets.sync.client

from learn_proxy.demo import SMUGGLING
from wirelab_common.waiting import eventually

from .conftest import raw

pytestmark = pytest.mark.loopback


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(("what", "data", "expected"), SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_a_smuggling_shape_is_refused_and_nothing_reaches_the_backend(proxy, backends, what, data, expected):
    before = backends.blog.line_count()
    answer = raw(proxy.port, data)
    assert status_line(answer).startswith(b"HTTP/1.1 %d " % expected), answer[:200]
    assert answer.count(b"HTTP/1.1") == 1, "a second (smuggled) request got an answer"
    assert b"Connection: close" in answer
    assert httpx.get(proxy.url + "/").status_code == 200  # and the proxy serves on
    assert backends.blog.line_count() == before


def test_keep_alive_requests_share_one_pooled_upstream_connection(proxy):
    with httpx.Client(base_url=proxy.url) as client:
        for _ in range(5):
            assert client.get("/headers").status_code == 200
    # The proxy's output is read by a thread: its fifth line may arrive a moment after the answer.
    def upstream_lines() -> list[str]:
        return [line for line in proxy.output().splitlines() if "GET /headers to main" in line]

    lines = eventually(lambda: upstream_lines() if len(upstream_lines()) >= 5 else None,
                       10, "five 'GET /headers to main' lines in the proxy's trace")
    assert len(lines) == 5
    assert sum("new)" in line for line in lines) == 1 and sum("reused)" in line for line in lines) == 4


def test_without_the_pool_every_request_opens_a_connection(start_proxy):
    proxy = start_proxy("--no-pool")
    with httpx.Client(base_url=proxy.url) as client:
        for _ in range(3):
            client.get("/headers")
    assert sum("new)" in line for line in proxy.output().splitlines() if "to main" in line) == 3


def test_a_large_upload_streams_through_with_either_framing(proxy):
    data = b"x" * (8 * 1024 * 1024 + 3)
    assert httpx.post(proxy.url + "/upload", content=data, timeout=30).json()["bytes"] == len(data)
    chunked = httpx.post(proxy.url + "/upload", content=iter([data[:1000], data[1000:]]), timeout=30)
    assert chunked.json()["bytes"] == len(data)


def test_a_streamed_response_arrives_piece_by_piece(proxy):
    with httpx.stream("GET", proxy.url + "/stream?n=5") as response:
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = list(response.iter_raw())
    assert b"".join(pieces) == b"".join(b"line %d\n" % i for i in range(5))


def test_head_keeps_the_length_the_get_would_have(proxy):
    response = httpx.head(proxy.url + "/blog/css/site.css")
    assert int(response.headers["content-length"]) == len(httpx.get(proxy.url + "/blog/css/site.css").content)
    assert "content-length" not in httpx.head(proxy.url + "/blog/").headers  # rewritten HTML: length unknown


def test_expect_100_continue_is_answered_by_the_proxy(proxy):
    answer = raw(
        proxy.port,
        b"POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
        b"Connection: close\r\n\r\nabc",
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert b'"bytes":3' in answer


def test_a_slow_upstream_is_a_504_and_a_dead_one_a_502(proxy, backends):
    assert httpx.get(proxy.url + "/slow?seconds=3", timeout=10).status_code == 504
    backends.blog.kill()
    response = httpx.get(proxy.url + "/blog/")
    assert response.status_code == 502 and "Connection refused" in response.text
    assert httpx.get(proxy.url + "/").status_code == 200


def test_a_pooled_connection_the_upstream_closed_is_replaced(procs, proxy, backends):
    """The main site restarts on the same port: the pooled connection to the old one is dead."""
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get("/").status_code == 200
        port = backends.main.port
        backends.main.stop()
        assert client.get("/").status_code == 502  # nothing listening: a clear 502, not a hang
        restarted = procs.start(
            [sys.executable, "-m", "learn_proxy.main_site", "--port", str(port), "-q"],
            name="main2",
            ready_port=port,
            timeout=30,
        )
        assert restarted.alive()
        assert client.get("/").status_code == 200
    opened = [line for line in proxy.output().splitlines() if "GET / to main" in line]
    assert [line.rsplit(", ", 1)[1] for line in opened] == ["new)", "new)"]


def test_the_traversal_never_reaches_the_blog(proxy, backends):
    before = backends.blog.line_count()
    assert httpx.get(proxy.url + "/blog/%2e%2e/admin").text.startswith("the main site's /admin")
    assert httpx.get(proxy.url + "/blog/%2e%2e/%2e%2e/etc/passwd").status_code == 400
    assert raw(proxy.port, b"GET /blog/..%2f..%2fadmin HTTP/1.1\r\nHost: a\r\n\r\n").startswith(
        b"HTTP/1.1 400"
    )
    assert backends.blog.line_count() == before


def test_a_websocket_upgrade_passes_through(proxy):
    with websockets.sync.client.connect(proxy.url.replace("http", "ws") + "/ws", open_timeout=10) as ws:
        ws.send("through the proxy")
        assert ws.recv(timeout=10) == "echo: through the proxy"
    assert re.search(r"switched protocols: splicing client <-> main", proxy.output())


def test_an_http_1_0_client_gets_a_close_delimited_rewritten_page(proxy):
    answer = raw(proxy.port, b"GET /blog/ HTTP/1.0\r\nHost: a\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body.rstrip().endswith(b"</html>") and b'href="/blog/css/site.css"' in body


def test_the_response_body_streams_before_the_upstream_has_finished(proxy):
    """``/held`` sends ``first`` and then waits for ``/release``: it must arrive before that."""
    with (
        httpx.Client(base_url=proxy.url, timeout=10) as client,
        client.stream("GET", "/held?key=r1") as response,
    ):
        pieces = response.iter_raw()
        first = next(pieces)  # a buffering proxy would block here until /held times out
        assert first == b"first\n"
        assert httpx.get(proxy.url + "/release?key=r1").status_code == 200
        assert b"".join(pieces) == b"last\n"


def test_the_request_body_streams_before_the_client_has_finished(proxy):
    """Half the body is sent; the main site must have seen it before the other half leaves."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(
            b"POST /upload?key=u1 HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello"
        )
        eventually(
            lambda: httpx.get(proxy.url + "/received?key=u1").json()["bytes"] == 5,
            10,
            "the main site to receive the first 5 bytes while the client holds the rest",
        )
        sock.sendall(b"world")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert b'"bytes":10' in answer


@pytest.fixture
def broken_upstream():
    """A raw socket 'backend' that answers every connection with the bytes it is given, then closes."""
    answers: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)  # the request head
                conn.sendall(answers[0] if answers else b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], answers
    stop.set()
    thread.join(5)
    listener.close()


def test_an_upstream_that_breaks_http_is_a_502_not_its_error(start_proxy, broken_upstream):
    port, answers = broken_upstream
    answers.append(b"HTTP/1.1 200 OK\r\nX-A: one\r\n folded\r\nContent-Length: 0\r\n\r\n")  # obs-fold
    proxy = start_proxy("--route", f"/bad=bad@127.0.0.1:{port}")
    response = httpx.get(proxy.url + "/bad/x")
    assert response.status_code == 502 and "bad broke HTTP/1.1: obs-fold" in response.text


def test_an_upstream_that_dies_mid_body_cuts_the_client_connection(start_proxy, broken_upstream):
    port, answers = broken_upstream
    answers.append(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")  # then closes
    proxy = start_proxy("--route", f"/bad=bad@127.0.0.1:{port}")
    with pytest.raises(httpx.RemoteProtocolError):  # no last chunk: the client knows the body is incomplete
        httpx.get(proxy.url + "/bad/x")
    # the proxy's line reaches us through its stdout pipe, a moment after the client saw the cut
    eventually(lambda: "cut the client connection mid-response" in proxy.output(), 10,
               "the proxy saying it cut the client connection")


def test_a_client_body_with_broken_chunks_is_a_400(proxy):
    answer = raw(
        proxy.port, b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 ") and b"bad chunk-size" in answer
