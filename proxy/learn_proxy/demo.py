"""The proxy demo: ``make demo-proxy`` (``python -m learn_proxy.demo [-v] [--act N]``).

Reading order: read this last; it drives everything else in the folder.

The main site (``main_site.py``) and the blog (``static_server.py``) start on
their own ports, and our proxy (``server.py``) puts both under one origin:
``/`` to the main site, ``/blog/*`` to the blog.  Five acts, each checked:

1. **One domain, two servers.**  ``/`` and ``/blog/`` come from different
   servers through one port; the main site shows what arrived: its own
   ``Host``, ``X-Forwarded-For/-Proto/-Host`` and ``Forwarded``, and not the
   field the client named in ``Connection`` (hop-by-hop).
2. **The rewrites.**  A redirect's ``Location``, the cookie's ``Path``, every
   asset URL in the page (each fetched: no 404), the canonical link, the merged
   ``robots.txt`` and sitemap, and ``X-Robots-Tag: noindex`` only on the blog's
   own origin.
3. **Paths that try to leave /blog.**  ``/blog/%2e%2e/admin`` is the main
   site's ``/admin``; ``/blog/%2e%2e/%2e%2e/etc/passwd`` is 400; the blog
   server never sees a dot-segment.
4. **Failures upstream.**  A slow page is cut off with 504 after the proxy's
   1 s read timeout; the blog is killed (SIGKILL) and ``/blog/`` is a 502 page
   while ``/`` still works.
5. **Smuggling refused.**  Raw requests with both ``Content-Length`` and
   ``Transfer-Encoding``, two ``Content-Length``, an obs-fold, bare LFs, and a
   20 KB header get 400, 400, 400, 400 and 431; the proxy serves on.

Exit 0 when every check passed, 1 when one failed (with what went wrong).
Each switch turns a mechanism off and the act that shows it must then fail:
``--no-forwarded`` (act 1), ``--no-rewrite`` (act 2), ``--no-normalize``
(act 3), ``--no-timeout`` (act 4: the proxy waits 30 s for the slow page),
``--no-strict`` (act 5: the proxy parses leniently).
"""

from __future__ import annotations

import argparse
import re
import socket
import sys

import httpx

from wirelab_common.errors import CheckFailed, check, run_main
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.wiretrace import Trace

PY = sys.executable
ASSET = re.compile(r'(?:href|src)="([^"]+)"')
SMUGGLING = [  # (what, raw request, expected status)
    (
        "Content-Length and Transfer-Encoding",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    (
        "two Content-Length fields",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    (
        "obs-fold",
        b"GET /headers HTTP/1.1\r\nHost: x\r\nX-Note: one\r\n two\r\nConnection: close\r\n\r\n",
        400,
    ),
    ("bare LF line endings", b"GET /headers HTTP/1.1\nHost: x\nConnection: close\n\n", 400),
    (
        "a 20 KB header",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        431,
    ),
]


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection, read until the proxy closes it (or ``timeout``).

    No half-close after sending: nginx takes a client's FIN as an abort and answers nothing.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else 0


def act_routing(trace: Trace, client: httpx.Client, main: ManagedProcess) -> None:
    trace.banner("Act 1: one domain, two servers")
    home, blog = client.get("/"), client.get("/blog/")
    check(home.status_code == 200 and "The main site" in home.text, f"/ gave {home.status_code}")
    check(blog.status_code == 200 and "The wirelab blog" in blog.text, f"/blog/ gave {blog.status_code}")
    trace.note("/ came from the main site, /blog/ from the blog server, both through one port")
    seen = client.get(
        "/headers", headers={"Connection": "keep-alive, X-Secret", "X-Secret": "hop-only"}
    ).json()
    fields = {k.lower(): v for k, v in seen["headers"]}
    for name in ("host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"):
        trace.note(f"the main site received {name}: {fields.get(name, '(none)')}")
    check(
        fields.get("host") == f"127.0.0.1:{main.port}", f"Host was {fields.get('host')}, not the upstream's"
    )
    check(
        fields.get("x-forwarded-host") == client.base_url.netloc.decode(),
        "no X-Forwarded-Host: the main site cannot know the public host (is --no-forwarded on?)",
    )
    check(
        fields.get("x-forwarded-for") == "127.0.0.1" and "for=127.0.0.1" in fields.get("forwarded", ""),
        "no X-Forwarded-For / Forwarded: the main site cannot know who asked",
    )
    check("x-secret" not in fields, "X-Secret, named in Connection, reached the main site (hop-by-hop)")
    trace.note("X-Secret was named in Connection, so it stopped at the proxy (RFC 9110 §7.6.1)")


def act_rewrites(trace: Trace, client: httpx.Client, blog: ManagedProcess) -> None:
    trace.banner("Act 2: the rewrites (redirect, cookie, assets, canonical, robots, sitemap)")
    redirect = client.get("/blog/posts/hello-proxy")
    location = redirect.headers.get("location", "")
    trace.note(f"the blog redirected: {redirect.status_code} Location: {location}")
    check(
        redirect.is_redirect and location == "/blog/posts/hello-proxy/",
        f"Location {location!r} leads out of /blog (the blog's own origin or path)",
    )
    page = client.get(location)
    cookie = page.headers.get("set-cookie", "")
    trace.note(f"Set-Cookie: {cookie}")
    check("Path=/blog" in cookie, f"the cookie's path is not /blog: {cookie!r}")
    assets = sorted({u for u in ASSET.findall(page.text) if not u.startswith("http")})
    missing = [u for u in assets if client.get(u).status_code != 200]
    trace.note(f"{len(assets)} URLs in the page: {', '.join(assets)}")
    check(
        not missing and all(u.startswith("/blog/") for u in assets),
        f"these URLs in the page do not resolve under /blog: {missing or assets}",
    )
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page.text)
    public = str(client.base_url).rstrip("/") + "/blog/posts/hello-proxy/"
    trace.note(f"canonical: {canonical.group(1) if canonical else '(none)'}")
    check(canonical and canonical.group(1) == public, f"the canonical link is not {public}")
    robots, sitemap = client.get("/robots.txt").text, client.get("/sitemap.xml").text
    trace.note("robots.txt: " + " | ".join(line for line in robots.splitlines() if line))
    check("Disallow: /blog/drafts/" in robots, "robots.txt lacks the blog's rules under /blog")
    check(f"<loc>{public}</loc>" in sitemap, "the sitemap lacks the blog's post at its public URL")
    direct = httpx.get(f"{blog.url}/posts/hello-proxy/")
    tag_direct, tag_proxied = direct.headers.get("x-robots-tag"), page.headers.get("x-robots-tag")
    trace.note(f"X-Robots-Tag on the blog's own origin: {tag_direct}; through the proxy: {tag_proxied}")
    check(tag_direct == "noindex" and tag_proxied is None, "X-Robots-Tag: noindex reached the public page")


def act_traversal(trace: Trace, client: httpx.Client, blog: ManagedProcess) -> None:
    trace.banner("Act 3: paths that try to leave /blog")
    before = blog.line_count()
    climb = client.get("/blog/%2e%2e/admin")
    trace.note(f"/blog/%2e%2e/admin -> {climb.status_code} {climb.text[:60]!r}")
    check(
        climb.status_code == 200 and "main site's /admin" in climb.text,
        "/blog/%2e%2e/admin did not resolve to the main site's /admin (the dot-segment went upstream)",
    )
    escape = client.get("/blog/%2e%2e/%2e%2e/etc/passwd")
    trace.note(f"/blog/%2e%2e/%2e%2e/etc/passwd -> {escape.status_code}")
    check(escape.status_code == 400, f"a path above the root got {escape.status_code}, not 400")
    seen = blog.output().splitlines()[before:]
    check(
        not any(".." in line or "%2e" in line.lower() for line in seen),
        "the blog server received a dot-segment",
    )
    trace.note("the blog server saw no dot-segment")


def act_failures(trace: Trace, client: httpx.Client, blog: ManagedProcess) -> None:
    trace.banner("Act 4: a slow backend (504) and a dead one (502)")
    try:
        slow = client.get("/slow?seconds=3", timeout=5)
    except httpx.TimeoutException:
        raise CheckFailed(
            "no answer within 5 s: the proxy waits on the slow backend (no read timeout)"
        ) from None
    trace.note(f"/slow?seconds=3 -> {slow.status_code} after the proxy's 1 s read timeout")
    check(slow.status_code == 504, f"the slow page gave {slow.status_code}, not 504")
    blog.kill()
    trace.note("the blog server was killed with SIGKILL")
    down, home = client.get("/blog/"), client.get("/")
    trace.note(f"/blog/ -> {down.status_code}; / -> {home.status_code}")
    check(down.status_code == 502 and "Bad Gateway" in down.text, f"/blog/ gave {down.status_code}, not 502")
    check(home.status_code == 200, "the main site stopped working with the blog")


def act_smuggling(trace: Trace, port: int) -> None:
    trace.banner("Act 5: request smuggling shapes are refused (RFC 9112)")
    for what, data, expected in SMUGGLING:
        status = status_of(raw(port, data))
        trace.note(f"{what}: {status or 'no answer'}")
        check(
            status == expected, f"{what} got {status or 'no answer'}, not {expected}: the proxy accepted it"
        )
    ok = status_of(raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    check(ok == 200, f"after the refusals a plain request got {ok}")
    trace.note("and the proxy still serves: 200")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_proxy.demo", description="The proxy demo.")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="every header the proxy sends and receives"
    )
    parser.add_argument("--act", type=int, choices=range(1, 6), help="run one act only")
    for name, what in (
        ("forwarded", "X-Forwarded-*/Forwarded"),
        ("rewrite", "the SEO rewrites"),
        ("normalize", "path normalisation"),
        ("timeout", "the 1 s read timeout"),
        ("strict", "the strict parser"),
    ):
        parser.add_argument(f"--no-{name}", action="store_true", help=f"turn off {what}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    v = ["-v"] if args.verbose else []
    started: list[ManagedProcess] = []
    try:
        main_site = start_server([PY, "-m", "learn_proxy.main_site", "--port", "0", "-q"], name="main")
        started.append(main_site)
        blog = start_server([PY, "-m", "learn_proxy.static_server", "--port", "0"], name="blog")
        started.append(blog)
        argv_proxy = [
            PY,
            "-m",
            "learn_proxy.server",
            "--port",
            "0",
            *v,
            "--route",
            f"/=main@127.0.0.1:{main_site.port}",
            "--route",
            f"/blog=blog@127.0.0.1:{blog.port}",
            "--seo",
            "/blog=http://blog.wirelab.test",
            "--read-timeout",
            "30" if args.no_timeout else "1",
        ]
        argv_proxy += [
            flag
            for on, flag in (
                (args.no_forwarded, "--no-forwarded"),
                (args.no_rewrite, "--no-rewrite"),
                (args.no_normalize, "--no-normalize"),
                (args.no_strict, "--lenient"),
            )
            if on
        ]
        proxy = start_server(argv_proxy, name="proxy", echo=True)
        started.append(proxy)
        trace.note(
            f"main site {main_site.url}, blog {blog.url}, proxy {proxy.url}: / -> main, /blog/* -> blog"
        )
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            acts = {
                1: lambda: act_routing(trace, client, main_site),
                2: lambda: act_rewrites(trace, client, blog),
                3: lambda: act_traversal(trace, client, blog),
                4: lambda: act_failures(trace, client, blog),
                5: lambda: act_smuggling(trace, proxy.port),
            }
            for number in [args.act] if args.act else sorted(acts):
                acts[number]()
        print("\nall checks passed", flush=True)
    finally:
        for proc in reversed(started):
            proc.stop()


if __name__ == "__main__":
    run_main(main)
