"""Which tunnel a public request is for, what the agent is told about it, and who may register (pure).

Reading order: frames -> mux -> session -> **routing** -> relay / agent -> demo.

A public request names its tunnel in one of two ways:

- the Host header, ``NAME.localhost:PORT`` (as ngrok's ``NAME.ngrok.app``):
  every path of the request is the app's path; ``*.localhost`` resolves to
  loopback in browsers and in curl (RFC 6761 section 6.3), so no DNS is needed;
- the path, ``/t/NAME/rest`` on any host: the app sees ``/rest``.  Handy where
  a client cannot set Host, at the cost of the app's absolute links.

Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, so they
stop at the relay and at the agent: the tunnel is a different connection.
"""

from __future__ import annotations

import hmac
import re

NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")  # one DNS label: it becomes part of a host name
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "proxy-authenticate", "proxy-authorization"}
PATH_PREFIX = "/t/"


def route(host: str | None, path: str) -> tuple[str, str] | None:
    """(tunnel name, path for the app) for a public request, or None if it names no tunnel."""
    hostname = (host or "").rsplit(":", 1)[0].lower() if not (host or "").startswith("[") else ""
    if hostname.endswith(".localhost"):
        label = hostname[: -len(".localhost")]
        if NAME.fullmatch(label):
            return label, path
    if path.startswith(PATH_PREFIX):
        name, _, rest = path[len(PATH_PREFIX):].partition("/")
        query = ""
        if "?" in name:
            name, _, query = name.partition("?")
            query = "?" + query
        if NAME.fullmatch(name):
            return name, "/" + rest + query
    return None


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without the hop-by-hop ones, nor those the Connection header names."""
    named = {token.strip().lower() for name, value in headers if name.lower() == "connection"
             for token in value.split(",")}
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP | named]


def token_ok(given: str, expected: str) -> bool:
    """Compare in constant time: how long the comparison takes must not say how much of it matched."""
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
