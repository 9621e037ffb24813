"""curl -N, a client nobody here wrote, reads the SSE stream and the chunked stream live."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import need_binary

pytestmark = pytest.mark.differential


@pytest.mark.parametrize(("path", "expected"), [
    ("/sse", [b"id: 1\ndata: {\"seq\":1,", b"id: 2\n", b"id: 3\n"]),
    ("/stream?since=0", [b'{"seq":1,', b'{"seq":2,', b'{"seq":3,']),
])
def test_curl_n_prints_each_event_while_the_response_is_still_open(path, expected, feed_server):
    curl = need_binary("curl", "curl")
    server = feed_server()
    with subprocess.Popen([curl, "-sS", "-N", "-i", "--max-time", "20", server.base + path],
                          stdout=subprocess.PIPE) as proc:
        try:
            first = proc.stdout.readline()  # the status line: the response has started
            assert first.startswith(b"HTTP/1.1 200")
            server.publish(3)
            seen = b""
            deadline = time.monotonic() + 10
            while not all(part in seen for part in expected) and time.monotonic() < deadline:
                seen += proc.stdout.read1(4096)
            assert all(part in seen for part in expected), seen
            assert b"transfer-encoding: chunked" in seen.lower()
            assert proc.poll() is None  # curl is still reading: the events came before any end
        finally:
            proc.terminate()
