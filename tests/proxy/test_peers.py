"""Our proxy beside nginx, with the same requests and the same expected answers; curl and Chromium as clients.

Where nginx and our proxy differ on purpose, the expectation names both (see the README's comparison).
"""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

import httpx
import pytest
import websockets.sync.client

from learn_proxy.demo import SMUGGLING
from tests.conftest import need_binary

from .conftest import raw

pytestmark = pytest.mark.differential


@pytest.fixture
def both(proxy, nginx) -> dict[str, str]:
    return {"ours": proxy.url, "nginx": nginx}


def fields(base: str) -> dict[str, str]:
    seen = httpx.get(
        base + "/headers", headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1"}
    ).json()
    return {k.lower(): v for k, v in seen["headers"]}


def test_the_same_routing_forwarding_and_rewrites_in_both(both, backends):
    for name, base in both.items():
        host = urlsplit(base).netloc
        seen = fields(base)
        assert seen["host"] == f"127.0.0.1:{backends.main.port}", name
        assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-host"] == host, name
        assert seen["forwarded"] == f"for=127.0.0.1;proto=http;host={host}", name
        redirect = httpx.get(base + "/blog/posts/hello-proxy")
        assert (
            redirect.status_code == 307
            and urlsplit(redirect.headers["location"]).path == "/blog/posts/hello-proxy/"
        )
        page = httpx.get(base + "/blog/posts/hello-proxy/")
        assert "Path=/blog;" in page.headers["set-cookie"] and "x-robots-tag" not in page.headers, name
        for url in (
            'href="/blog/css/site.css"',
            'src="/blog/js/site.js"',
            'srcset="/blog/img/logo.svg 1x, /blog/img/logo.svg 2x"',
            f'href="http://{host}/blog/"',
        ):
            assert url in page.text, (name, url)
        assert httpx.get(base + "/blog/%2e%2e/%2e%2e/etc/passwd").status_code == 400, name
        assert httpx.get(base + "/slow?seconds=3", timeout=10).status_code == 504, name


def test_what_only_our_proxy_does(both):
    ours, nginx = both["ours"], both["nginx"]
    # a field named in Connection is hop-by-hop (RFC 9110 §7.6.1); nginx drops only the standard ones
    assert "x-secret" not in fields(ours) and fields(nginx)["x-secret"] == "1"
    # the canonical link where the page has none: nginx's sub_filter cannot add it only when missing
    assert (
        f'rel="canonical" href="{ours}/blog/posts/hello-proxy/"'
        in httpx.get(ours + "/blog/posts/hello-proxy/").text
    )
    assert 'rel="canonical"' not in httpx.get(nginx + "/blog/posts/hello-proxy/").text
    # the merged robots.txt: nginx passes the main site's file
    assert "Disallow: /blog/drafts/" in httpx.get(ours + "/robots.txt").text
    assert "Disallow: /blog/drafts/" not in httpx.get(nginx + "/robots.txt").text
    # /blog/%2e%2e/admin: nginx routes by the normalised path but forwards the raw target upstream
    assert httpx.get(ours + "/blog/%2e%2e/admin").status_code == 200
    assert httpx.get(nginx + "/blog/%2e%2e/admin").status_code == 404  # the main site got /blog/%2e%2e/admin


EXPECTED = {  # what each proxy answers to each smuggling shape
    "Content-Length and Transfer-Encoding": (400, 400),
    "two Content-Length fields": (400, 400),
    "obs-fold": (400, 400),
    "bare LF line endings": (400, 200),  # nginx accepts a bare LF as a line end (RFC 9112 §2.2 allows it)
    "a 20 KB header": (431, 400),  # nginx answers 400 "Request Header Or Cookie Too Large"
}


@pytest.mark.parametrize(("what", "data", "_"), SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_smuggling_shapes_against_both(both, what, data, _):
    ours, theirs = EXPECTED[what]
    for name, base, expected in (("ours", both["ours"], ours), ("nginx", both["nginx"], theirs)):
        answer = raw(urlsplit(base).port, data)
        assert answer.startswith(b"HTTP/1.1 %d " % expected), (name, answer[:120])


def test_curl_follows_the_redirect_and_keeps_the_cookie_under_blog(proxy, tmp_path):
    curl = need_binary("curl", "curl")
    jar = tmp_path / "jar"
    out = subprocess.run(
        [
            curl,
            "-sS",
            "-L",
            "-c",
            str(jar),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{url_effective}",
            proxy.url + "/blog/posts/hello-proxy",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.stdout == f"200 {proxy.url}/blog/posts/hello-proxy/", out.stderr
    cookie = [line.split("\t") for line in jar.read_text().splitlines() if "reader" in line][0]
    assert cookie[2] == "/blog" and cookie[5] == "reader"
    traversal = subprocess.run(
        [
            curl,
            "-sS",
            "--path-as-is",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            proxy.url + "/blog/../../etc/passwd",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert traversal.stdout == "400"


def test_chromium_loads_a_blog_page_through_the_proxy_with_nothing_missing(proxy, chromium_page):
    failures: list[str] = []
    chromium_page.on(
        "response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    chromium_page.on("requestfailed", lambda r: failures.append(f"failed {r.url}"))
    chromium_page.goto(proxy.url + "/blog/posts/hello-proxy", wait_until="load", timeout=20000)
    assert chromium_page.url == proxy.url + "/blog/posts/hello-proxy/"
    assert chromium_page.evaluate("document.documentElement.dataset.blogScript") == "loaded"  # the JS ran
    assert chromium_page.evaluate("getComputedStyle(document.body).maxWidth") != "none"  # the CSS applied
    assert chromium_page.evaluate("document.querySelector('header img').naturalWidth") == 32  # the image
    chromium_page.click("text=All posts")
    chromium_page.wait_for_url(proxy.url + "/blog/", timeout=10000)
    assert not failures, failures


def test_a_websocket_upgrade_passes_through_both(both):
    for name, base in both.items():
        with websockets.sync.client.connect(base.replace("http", "ws") + "/ws", open_timeout=10) as ws:
            ws.send(f"through {name}")
            assert ws.recv(timeout=10) == f"echo: through {name}"


def test_a_killed_backend_is_a_502_from_both(both, backends):
    backends.blog.kill()
    for name, base in both.items():
        assert httpx.get(base + "/blog/").status_code == 502, name
        assert httpx.get(base + "/").status_code == 200, name
