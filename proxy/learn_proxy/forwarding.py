"""What a proxy must change in the headers it passes on (RFC 9110 §7.6, RFC 7239).

Reading order: http11 -> routing -> **forwarding** -> rewrite -> seo -> pool -> exchange -> server.

- **Hop-by-hop fields** belong to one connection, not to the message: the
  proxy removes ``Connection`` and every field it names, and the fields that
  are hop-by-hop by definition (``Keep-Alive``, ``Proxy-Connection``, ``TE``,
  ``Transfer-Encoding``, ``Upgrade``, ``Trailer``; RFC 9110 §7.6.1), and the
  proxy credentials ``Proxy-Authenticate``/``Proxy-Authorization``, meant for us.  The proxy
  then frames the body again itself (``Content-Length`` or chunked) on the next
  hop.  A WebSocket handshake is the one exception the proxy makes on purpose:
  ``Upgrade: websocket`` with ``Connection: upgrade`` is passed on, so the
  upstream can switch protocols.
- **Host** on the upstream hop is the upstream's own authority (it may be a
  virtual host that knows nothing of our domain); the public one travels as
  ``X-Forwarded-Host``.
- **Who asked**: ``X-Forwarded-For`` (the client's address, appended to any
  list already there), ``X-Forwarded-Proto``, ``X-Forwarded-Host``, and the
  standard ``Forwarded: for=...;proto=...;host=...`` (RFC 7239 §4), appended
  the same way.  A production edge proxy would *replace* these when the
  client is not another trusted proxy; this one appends, like nginx's
  ``$proxy_add_x_forwarded_for``.
"""

from __future__ import annotations

from .http11 import Headers, connection_options, get, get_all

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailer",
    "proxy-authenticate",
    "proxy-authorization",
}


def is_upgrade(headers: Headers) -> bool:
    """A WebSocket handshake: ``Connection: upgrade`` and ``Upgrade: websocket``."""
    upgrade = (get(headers, "upgrade") or "").lower()
    return "upgrade" in connection_options(headers) and upgrade == "websocket"


def strip_hop_by_hop(headers: Headers) -> list[tuple[str, str]]:
    """``headers`` without Connection, the fields it names, and the standard hop-by-hop ones."""
    named = connection_options(headers)
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in named]


def _forwarded_node(address: str) -> str:
    """RFC 7239 §6: an IPv6 address is quoted and bracketed."""
    return f'"[{address}]"' if ":" in address else address


def upstream_request_headers(
    headers: Headers,
    *,
    client_ip: str,
    public_host: str,
    proto: str,
    upstream_authority: str,
    forwarded: bool = True,
) -> list[tuple[str, str]]:
    """The request's headers for the upstream hop (the body framing is added by the caller)."""
    out = [(k, v) for k, v in strip_hop_by_hop(headers) if k.lower() not in ("host", "content-length")]
    out.insert(0, ("Host", upstream_authority))
    if forwarded:
        prior = ", ".join(get_all(headers, "x-forwarded-for"))
        out = [
            (k, v)
            for k, v in out
            if k.lower() not in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded")
        ]
        out.append(("X-Forwarded-For", f"{prior}, {client_ip}" if prior else client_ip))
        out.append(("X-Forwarded-Proto", proto))
        out.append(("X-Forwarded-Host", public_host))
        node = f"for={_forwarded_node(client_ip)};proto={proto};host={public_host}"
        prior_fwd = ", ".join(get_all(headers, "forwarded"))
        out.append(("Forwarded", f"{prior_fwd}, {node}" if prior_fwd else node))
    if is_upgrade(headers):
        out += [("Connection", "upgrade"), ("Upgrade", get(headers, "upgrade") or "websocket")]
    return out


def client_response_headers(headers: Headers, *, upgrade: bool = False) -> list[tuple[str, str]]:
    """The response's headers for the client hop; a 101's Upgrade/Connection pass through."""
    out = [(k, v) for k, v in strip_hop_by_hop(headers) if k.lower() != "content-length"]
    if upgrade:
        out += [("Connection", "upgrade"), ("Upgrade", get(headers, "upgrade") or "websocket")]
    return out
