"""The routing table: which upstream serves a path, and what path it is asked for.

Reading order: http11 -> **routing** -> forwarding -> rewrite -> seo -> pool -> exchange -> server.

A :class:`Route` maps a public path prefix to an upstream and a path there:
``Route("/blog", upstream, "/")`` sends ``/blog/posts/x/`` to the blog server as
``/posts/x/`` (the Vercel rewrite ``/blog/:path* -> https://blog.example/:path*``).
The longest matching prefix wins; a prefix matches whole segments only, so
``/blog`` matches ``/blog`` and ``/blog/x`` but not ``/blogger``.

Before matching, the path is normalised (:func:`normalize_path`): dot-segments
are removed as RFC 3986 §5.2.4 says, *after* decoding ``%2e``, so that
``/blog/%2e%2e/admin`` is ``/admin`` (and goes to the main site, where it
belongs) instead of reaching the blog server as a path that climbs out of its
prefix.  An encoded slash or backslash (``%2f``, ``%5c``), a NUL, or a path
that climbs above the root is refused with 400: no upstream ever sees ``..``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# Inside one segment these decode to a separator or worse: refuse rather than guess
# whether the upstream decodes them (nginx decodes %2f; many app servers do not).
FORBIDDEN_ESCAPES = re.compile(r"%(2f|5c|00)", re.I)


class BadPath(ValueError):
    """The request-target cannot be routed safely (answer 400)."""


@dataclass(frozen=True)
class Upstream:
    name: str  # for the trace: "main", "blog"
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Route:
    prefix: str  # public path prefix, no trailing slash ("" for the catch-all)
    upstream: Upstream
    rewrite_to: str = "/"  # the upstream path the prefix stands for
    seo: bool = False  # rewrite redirects, cookies and HTML so the upstream works under the prefix
    aliases: tuple[str, ...] = ()  # other origins the upstream calls itself (its own domain)

    @property
    def backend_origins(self) -> tuple[str, ...]:
        """Every origin whose URLs point into this upstream."""
        return (self.upstream.origin, f"http://localhost:{self.upstream.port}", *self.aliases)

    def matches(self, path: str) -> bool:
        return self.prefix == "" or path == self.prefix or path.startswith(self.prefix + "/")

    def upstream_path(self, path: str) -> str:
        """``/blog/posts/x`` -> ``/posts/x`` (``/blog`` -> ``/``)."""
        rest = path[len(self.prefix) :].lstrip("/")
        return self.rewrite_to.rstrip("/") + "/" + rest

    def public_path(self, upstream_path: str) -> str:
        """The inverse: an upstream path as the public sees it (``/posts/x`` -> ``/blog/posts/x``)."""
        base = self.rewrite_to.rstrip("/")
        if base and not (upstream_path == base or upstream_path.startswith(base + "/")):
            return upstream_path
        return self.prefix + upstream_path[len(base) :]


def split_target(target: str) -> tuple[str, str]:
    """origin-form ``/path?query`` -> (path, "?query" or "")."""
    path, mark, query = target.partition("?")
    return path, mark + query


def normalize_path(path: str) -> str:
    """RFC 3986 §5.2.4 remove_dot_segments, seeing ``%2e`` as ``.``; BadPath if unsafe."""
    if not path.startswith("/"):
        raise BadPath(f"request-target {path[:40]!r} is not origin-form (must start with /)")
    if FORBIDDEN_ESCAPES.search(path) or "\\" in path:
        raise BadPath("encoded slash, backslash or NUL in the path")
    output: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        plain = unquote(segment) if "%" in segment else segment
        if plain == ".":
            if last:
                output.append("")
            continue
        if plain == "..":
            if not output:
                raise BadPath("the path climbs above the root")
            output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    return "/" + "/".join(output)


class RoutingTable:
    """Routes, longest prefix first; ``normalize=False`` only for the demo's ``--no-normalize``."""

    def __init__(self, routes: list[Route], *, normalize: bool = True) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        self.normalize = normalize

    def resolve(self, target: str) -> tuple[Route, str]:
        """(route, upstream target) for a request-target; BadPath (400) or LookupError (404)."""
        path, query = split_target(target)
        if self.normalize:
            path = normalize_path(path)
        for route in self.routes:
            if route.matches(path):
                return route, route.upstream_path(path) + query
        raise LookupError(f"no route for {path}")
