"""The routing table and path normalisation (learn_proxy.routing)."""

from __future__ import annotations

import pytest

from learn_proxy.routing import BadPath, Route, RoutingTable, Upstream, normalize_path

pytestmark = pytest.mark.pure

MAIN = Upstream("main", "127.0.0.1", 8001)
BLOG = Upstream("blog", "127.0.0.1", 8002)
TABLE = RoutingTable([Route("", MAIN), Route("/blog", BLOG, seo=True)])


@pytest.mark.parametrize(
    ("target", "upstream", "path"),
    [
        ("/", "main", "/"),
        ("/pricing?x=1", "main", "/pricing?x=1"),
        ("/blog", "blog", "/"),
        ("/blog/", "blog", "/"),
        ("/blog/posts/x/?utm=1", "blog", "/posts/x/?utm=1"),
        ("/blogger", "main", "/blogger"),  # a prefix matches whole segments only
        ("/blog/../admin", "main", "/admin"),
        ("/blog/%2e%2e/admin", "main", "/admin"),
        ("/blog/%2E%2e/admin", "main", "/admin"),
        ("/blog/posts/./x", "blog", "/posts/x"),
        ("/blog/posts/..", "blog", "/"),
    ],
)
def test_the_longest_prefix_wins_after_dot_segments_are_removed(target, upstream, path):
    route, upstream_target = TABLE.resolve(target)
    assert (route.upstream.name, upstream_target) == (upstream, path)


@pytest.mark.parametrize(
    "target",
    [
        "/blog/%2e%2e/%2e%2e/etc/passwd",
        "/../x",
        "/blog/..%2f..%2fadmin",
        "/blog/%2F../x",
        "/blog/a%5c..%5cb",
        "/blog/%00",
        "http://example.com/",
        "*",
    ],
)
def test_paths_that_could_escape_are_refused(target):
    with pytest.raises(BadPath):
        TABLE.resolve(target)


def test_no_upstream_path_ever_contains_a_dot_segment():
    for target in ("/blog/a/../../blog/b", "/blog/./.././blog/%2e/c", "/blog/x/%2e%2e/%2e%2e/y"):
        _, path = TABLE.resolve(target)
        assert "/../" not in path + "/" and "/./" not in path + "/" and "%2e" not in path.lower()


def test_public_path_is_the_inverse_of_upstream_path():
    route = Route("/blog", BLOG)
    for path in ("/blog/", "/blog/posts/x/", "/blog/css/site.css"):
        assert route.public_path(route.upstream_path(path)) == path


def test_normalize_keeps_a_trailing_slash_after_a_dot_segment():
    assert normalize_path("/a/b/..") == "/a/"
    assert normalize_path("/a/./") == "/a/"
