"""Making a backend work under a path prefix it does not know about.

Reading order: http11 -> routing -> forwarding -> **rewrite** -> seo -> pool -> exchange -> server.

The blog server believes it lives at ``http://127.0.0.1:B/``.  Served as
``https://example.com/blog/``, everything in its answers that names a path or
its own origin points to the wrong place, and the page breaks (assets 404) or
leaks the backend's domain (search engines index it twice).  The proxy fixes
four things on a route with ``seo=True``:

- ``Location`` of a redirect (RFC 9110 §10.2.2): ``http://127.0.0.1:B/posts/x/``
  or ``/posts/x/`` becomes ``/blog/posts/x/``  (:func:`rewrite_location`);
- ``Set-Cookie``'s ``Path`` (RFC 6265 §5.2.4): ``Path=/`` becomes
  ``Path=/blog``, and a ``Domain`` naming the backend is dropped, so the cookie
  goes back to the blog and only to it (:func:`rewrite_set_cookie`);
- URLs in HTML attributes (``href``, ``src``, ``srcset``, ``action``,
  ``poster``, ``content``): root-relative ``/css/site.css`` becomes
  ``/blog/css/site.css``, and absolute URLs on the backend's origin become
  the public ones (:class:`HtmlRewriter`);
- the canonical link: rewritten like any absolute URL, and added before
  ``</head>`` when the page has none, so search engines credit the public URL.

:class:`HtmlRewriter` streams: it holds back at most an unfinished tag between
two pieces of the body, never the whole page.  It reads tags with a regular
expression, not an HTML parser: text inside ``<script>`` or ``<style>``, and
``url(...)`` in CSS, are not rewritten (the exercises say how to add them).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .routing import Route

TAG = re.compile(rb"<[A-Za-z][^<>]*>")
ATTRIBUTE = re.compile(rb"""(\s(?:href|src|srcset|action|poster|content)\s*=\s*)(["'])(.*?)\2""", re.I)
HEAD_END = re.compile(rb"</head\s*>", re.I)
CANONICAL = re.compile(rb"""<link\b[^>]*\brel\s*=\s*["']?canonical\b""", re.I)
MAX_HOLD = 64 * 1024  # an unfinished "tag" longer than this is text: let it through


def public_url_path(url: str, route: Route, backend_origins: tuple[str, ...]) -> str | None:
    """The public form of ``url`` if it points into the backend, else None (leave it alone)."""
    if url.startswith("//"):
        url = "http:" + url  # scheme-relative: compare like an absolute URL
    for origin in backend_origins:
        if url == origin or url.startswith(origin + "/") or url.startswith(origin + "?"):
            rest = url[len(origin) :] or "/"
            return route.public_path(rest) if rest.startswith("/") else route.prefix + "/" + rest
    if url.startswith("/") and not url.startswith("//"):
        if url == route.prefix or url.startswith(route.prefix + "/"):
            return None  # already public (a backend that knows its prefix)
        return route.public_path(url)
    return None


def rewrite_location(value: str, route: Route, backend_origins: tuple[str, ...]) -> str:
    """A redirect's target as the client must see it; relative targets are left as they are."""
    rewritten = public_url_path(value, route, backend_origins)
    return value if rewritten is None else rewritten


def rewrite_set_cookie(value: str, route: Route, backend_hosts: tuple[str, ...]) -> str:
    """``Path=/x`` -> ``Path=/blog/x``; a ``Domain`` naming the backend is dropped (host-only)."""
    parts = [p.strip() for p in value.split(";")]
    out = [parts[0]]
    for attribute in parts[1:]:
        name, _, attr_value = attribute.partition("=")
        key = name.strip().lower()
        if key == "path" and attr_value.startswith("/"):
            public = route.public_path(attr_value)
            out.append(f"Path={public.rstrip('/') or '/'}")
        elif key == "domain" and attr_value.strip().lstrip(".").lower() in backend_hosts:
            continue
        else:
            out.append(attribute)
    return "; ".join(out)


class HtmlRewriter:
    """Rewrites URLs in an HTML body piece by piece: ``feed(data)`` -> bytes, then ``close()``."""

    def __init__(self, route: Route, backend_origins: tuple[str, ...], canonical: str | None) -> None:
        self.route = route
        self.origins = backend_origins
        self.canonical = canonical  # the page's public URL, added if the page names none
        self.pending = b""
        self.seen_canonical = False
        self.head_done = False
        self.rewritten = 0  # how many attribute values changed (for the trace)

    def feed(self, data: bytes) -> bytes:
        text = self.pending + data
        cut = text.rfind(b"<")
        if cut >= 0 and text.find(b">", cut) < 0 and len(text) - cut < MAX_HOLD:
            text, self.pending = text[:cut], text[cut:]  # an unfinished tag waits for the next piece
        else:
            self.pending = b""
        return self._rewrite(text)

    def close(self) -> bytes:
        text, self.pending = self.pending, b""
        return self._rewrite(text)

    def _rewrite(self, text: bytes) -> bytes:
        if not self.seen_canonical and CANONICAL.search(text):
            self.seen_canonical = True
        text = TAG.sub(self._tag, text)
        if not self.head_done and (match := HEAD_END.search(text)):
            self.head_done = True
            if not self.seen_canonical and self.canonical:
                link = f'<link rel="canonical" href="{self.canonical}">\n'.encode()
                text = text[: match.start()] + link + text[match.start() :]
                self.seen_canonical = True
        return text

    def _tag(self, match: re.Match[bytes]) -> bytes:
        return ATTRIBUTE.sub(self._attribute, match.group(0))

    def _attribute(self, match: re.Match[bytes]) -> bytes:
        name = match.group(1).strip().split(b"=")[0].strip().lower()
        value = match.group(3).decode("utf-8", "surrogateescape")
        if name == b"srcset":
            new = ", ".join(
                self._url(item.strip().split(" ")[0]) + item.strip()[len(item.strip().split(" ")[0]) :]
                for item in value.split(",")
            )
        else:
            new = self._url(value)
        if new == value:
            return match.group(0)
        self.rewritten += 1
        return match.group(1) + match.group(2) + new.encode("utf-8", "surrogateescape") + match.group(2)

    def _url(self, url: str) -> str:
        public = public_url_path(url, self.route, self.origins)
        if public is None:
            return url
        if url.startswith("/") and not url.startswith("//"):
            return public  # root-relative stays root-relative
        return self.public_origin + public

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.canonical or "")
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
