"""The naive httpx-on-FastAPI proxy (learn_proxy.naive) beside ours: what the libraries let through.

The naive proxy leans on uvicorn's parser; these tests pin down, for each of
uvicorn's two parsers, which smuggling shapes reach the naive proxy's code
(and so the backend) where ours answers 400/431, and what else it gets wrong.
"""

from __future__ import annotations

import re
import sys

import httpx
import pytest

from learn_proxy.demo import SMUGGLING
from wirelab_common.processes import start_server

from .conftest import raw

pytestmark = pytest.mark.differential

# shape -> (uvicorn with httptools, uvicorn with h11): the status the naive proxy answers
NAIVE = {
    "Content-Length and Transfer-Encoding": (
        400,
        200,
    ),  # h11: chunked wins, and the hidden GET is answered too
    "two Content-Length fields": (400, 400),
    "obs-fold": (400, 200),  # h11 joins the fold
    "bare LF line endings": (400, 200),  # h11 takes LF as a line end
    "a 20 KB header": (200, 200),  # no head limit below uvicorn's 64 KiB (h11) / none of its own (httptools)
}


@pytest.fixture(params=["httptools", "h11"])
def naive(request, procs, backends):
    proc = start_server(
        [
            sys.executable,
            "-m",
            "learn_proxy.naive",
            "--port",
            "0",
            "--http",
            request.param,
            "--main",
            f"127.0.0.1:{backends.main.port}",
            "--blog",
            f"127.0.0.1:{backends.blog.port}",
        ],
        name="naive",
        timeout=30,
    )
    procs.started.append(proc)
    return request.param, proc


def status(answer: bytes) -> int | str:
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    return int(match.group(1)) if match else answer[:40].decode("latin-1") or "no answer"


def test_smuggling_shapes_the_naive_proxy_lets_through_and_ours_refuses(naive, proxy):
    parser, proc = naive
    column = 0 if parser == "httptools" else 1
    for what, data, ours in SMUGGLING:
        assert status(raw(proxy.port, data)) == ours, what
        assert status(raw(proc.port, data)) == NAIVE[what][column], (parser, what)


def test_with_h11_the_request_hidden_in_a_body_is_answered_too(naive, backends):
    parser, proc = naive
    answer = raw(proc.port, SMUGGLING[0][1])
    if parser == "h11":
        assert answer.count(b"HTTP/1.1 200") == 2 and b"the main site's /admin" in answer
    else:  # httptools (llhttp) refuses the pair, as ours does
        assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 400")


def test_the_naive_proxy_breaks_the_blog_and_leaks_hop_by_hop_fields(naive, backends):
    _, proc = naive
    redirect = httpx.get(proc.url + "/blog/posts/hello-proxy")
    assert redirect.headers["location"] == f"http://127.0.0.1:{backends.blog.port}/posts/hello-proxy/"
    page = httpx.get(proc.url + "/blog/posts/hello-proxy/")
    assert 'href="/css/site.css"' in page.text and "Path=/;" in page.headers["set-cookie"]
    assert httpx.get(proc.url + "/css/site.css").status_code == 404  # where the browser would look for it
    seen = httpx.get(
        proc.url + "/headers", headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1"}
    ).json()
    names = {k for k, _ in seen["headers"]}
    assert "x-secret" in names and "x-forwarded-for" not in names
