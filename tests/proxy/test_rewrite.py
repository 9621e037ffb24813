"""The SEO rewrites (learn_proxy.rewrite) and the merged robots.txt and sitemap (learn_proxy.seo)."""

from __future__ import annotations

import pytest

from learn_proxy.rewrite import HtmlRewriter, rewrite_location, rewrite_set_cookie
from learn_proxy.routing import Route, Upstream
from learn_proxy.seo import merge_robots, merge_sitemaps, sitemap_locs

pytestmark = pytest.mark.pure

BLOG = Route("/blog", Upstream("blog", "127.0.0.1", 8002), seo=True, aliases=("http://blog.wirelab.test",))
ORIGINS = BLOG.backend_origins
PUBLIC = "https://example.com"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:8002/posts/x/", "/blog/posts/x/"),
        ("http://blog.wirelab.test/posts/x/?a=1", "/blog/posts/x/?a=1"),
        ("http://localhost:8002/", "/blog/"),
        ("/posts/x/", "/blog/posts/x/"),
        ("/blog/posts/x/", "/blog/posts/x/"),  # a backend that already knows its prefix
        ("posts/x/", "posts/x/"),  # relative: resolved by the client against the public URL already
        ("https://other.example/", "https://other.example/"),
    ],
)
def test_a_redirect_into_the_backend_stays_under_the_prefix(location, expected):
    assert rewrite_location(location, BLOG, ORIGINS) == expected


def test_the_cookie_path_moves_under_the_prefix_and_a_backend_domain_is_dropped():
    assert (
        rewrite_set_cookie("a=1; Path=/; HttpOnly", BLOG, ("blog.wirelab.test",))
        == "a=1; Path=/blog; HttpOnly"
    )
    assert (
        rewrite_set_cookie("a=1; Path=/posts/; Domain=.blog.wirelab.test", BLOG, ("blog.wirelab.test",))
        == "a=1; Path=/blog/posts"
    )
    assert (
        rewrite_set_cookie("a=1; Domain=example.com", BLOG, ("blog.wirelab.test",))
        == "a=1; Domain=example.com"
    )


PAGE = (
    b'<html><head><title>t</title><link rel="stylesheet" href="/css/site.css">'
    b"<script src='/js/site.js'></script></head><body>"
    b'<a href="/posts/x/">x</a> <a href="http://blog.wirelab.test/">home</a>'
    b' <a href="//cdn.example/a.js">cdn</a>'
    b'<img src="/img/a.png" srcset="/img/a.png 1x, /img/b.png 2x"> <a href="#top">top</a>'
    b"<p>text mentioning /css/site.css stays</p></body></html>"
)


def rewrite(page: bytes, split: int | None = None, canonical: str = PUBLIC + "/blog/posts/x/") -> bytes:
    rewriter = HtmlRewriter(BLOG, ORIGINS, canonical)
    if split is None:
        return rewriter.feed(page) + rewriter.close()
    return rewriter.feed(page[:split]) + rewriter.feed(page[split:]) + rewriter.close()


def test_urls_in_html_attributes_point_under_the_prefix():
    out = rewrite(PAGE)
    for expected in (
        b'href="/blog/css/site.css"',
        b"src='/blog/js/site.js'",
        b'href="/blog/posts/x/"',
        b'href="https://example.com/blog/"',
        b'href="//cdn.example/a.js"',
        b'srcset="/blog/img/a.png 1x, /blog/img/b.png 2x"',
        b'href="#top"',
        b"text mentioning /css/site.css stays",
    ):
        assert expected in out, expected


def test_a_missing_canonical_link_is_added_once_before_the_head_ends():
    out = rewrite(PAGE)
    assert out.count(b'rel="canonical"') == 1
    assert b'<link rel="canonical" href="https://example.com/blog/posts/x/">\n</head>' in out


def test_an_existing_canonical_link_is_rewritten_not_duplicated():
    page = b'<head><link rel="canonical" href="http://blog.wirelab.test/posts/x/"></head>'
    out = rewrite(page)
    assert out == b'<head><link rel="canonical" href="https://example.com/blog/posts/x/"></head>'


def test_the_rewriter_gives_the_same_bytes_however_the_body_is_split():
    whole = rewrite(PAGE)
    for split in range(1, len(PAGE)):
        assert rewrite(PAGE, split) == whole, split


ROBOTS_MAIN = "User-agent: *\nDisallow: /admin/\n\nSitemap: https://example.com/sitemap.xml\n"
ROBOTS_BLOG = (
    "User-agent: *\nDisallow: /drafts/\nAllow: /drafts/public\n\nUser-agent: BadBot\nDisallow: /\n"
    "Sitemap: http://blog.wirelab.test/sitemap.xml\n"
)


def test_robots_txt_merges_the_blogs_rules_under_the_prefix_with_one_sitemap():
    merged = merge_robots(ROBOTS_MAIN, ROBOTS_BLOG, BLOG, PUBLIC + "/sitemap.xml")
    lines = merged.splitlines()
    assert "Disallow: /admin/" in lines and "Disallow: /blog/drafts/" in lines
    assert "Allow: /blog/drafts/public" in lines and "Disallow: /blog/" in lines
    assert [line for line in lines if line.startswith("Sitemap")] == [
        "Sitemap: https://example.com/sitemap.xml"
    ]


def test_the_sitemap_lists_both_sites_at_public_urls():
    main = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://example.com/</loc></url></urlset>"
    )
    blog = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>http://blog.wirelab.test/</loc></url><url><loc>http://blog.wirelab.test/posts/x/</loc></url>"
        "</urlset>"
    )
    merged = merge_sitemaps(main, blog, BLOG, ORIGINS, PUBLIC)
    assert sitemap_locs(merged) == [
        "https://example.com/",
        "https://example.com/blog/",
        "https://example.com/blog/posts/x/",
    ]
