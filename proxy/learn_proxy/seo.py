"""One robots.txt and one sitemap for the whole domain, merged from both backends.

Reading order: http11 -> routing -> forwarding -> rewrite -> **seo** -> pool -> exchange -> server.

A crawler asks ``https://example.com/robots.txt`` once for the whole host
(RFC 9309 §2.3); it never asks ``/blog/robots.txt``.  So the blog's rules are
lost unless the proxy merges them into the main site's file, with every path
moved under the prefix (``Disallow: /drafts/`` -> ``Disallow: /blog/drafts/``).
Groups for the same user-agent need no joining: RFC 9309 §2.2.1 says a
crawler combines every group that matches it.  Both files' ``Sitemap:`` lines
are replaced by one, the merged sitemap's public URL.

The merged sitemap (sitemaps.org protocol 0.9) lists the main site's URLs and
the blog's, the blog's ``<loc>`` moved from the blog's own origin to the
public one under the prefix.

The last piece is the other direction: the blog's own origin must *not* be
indexed, or its pages compete with their copies under ``/blog``.  The blog
server sends ``X-Robots-Tag: noindex`` on everything; the proxy drops that
field on the way out (``server.py``), so only the backend's own domain carries it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .rewrite import public_url_path
from .routing import Route

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
PATH_RULES = ("allow", "disallow")


def merge_robots(main: str, blog: str, route: Route, sitemap_url: str) -> str:
    """The main file's groups, then the blog's with paths under the prefix, then one Sitemap line."""
    lines = [line for line in main.splitlines() if not line.lower().startswith("sitemap:")]
    while lines and not lines[-1].strip():
        lines.pop()
    lines += ["", f"# from {route.upstream.name} (served under {route.prefix}/)"]
    for line in blog.splitlines():
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if key == "sitemap":
            continue
        if colon and key in PATH_RULES and value.strip().startswith("/"):
            line = f"{key.capitalize()}: {route.public_path(value.strip())}"
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join([*lines, "", f"Sitemap: {sitemap_url}", ""])


def sitemap_locs(xml_text: str) -> list[str]:
    root = ET.fromstring(xml_text)
    return [loc.text.strip() for loc in root.iter(f"{{{SITEMAP_NS}}}loc") if loc.text]


def merge_sitemaps(
    main_xml: str, blog_xml: str, route: Route, backend_origins: tuple[str, ...], public_origin: str
) -> str:
    """One ``<urlset>``: the main site's URLs as they are, then the blog's, moved to the public origin."""
    locs = sitemap_locs(main_xml)  # the main site already names its public URLs (X-Forwarded-Host)
    for loc in sitemap_locs(blog_xml):
        path = public_url_path(loc, route, backend_origins)
        locs.append(loc if path is None else public_origin + path)
    urls = "".join(f"  <url><loc>{loc}</loc></url>\n" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">\n{urls}</urlset>\n'
