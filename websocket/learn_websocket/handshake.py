"""The opening handshake: an HTTP/1.1 Upgrade, as pure functions (RFC 6455 §4).

Reading order: **handshake** -> opening -> frames -> protocol -> aio -> server / client.

A WebSocket connection starts life as an HTTP request.  The client asks the
server to switch protocols; the server answers ``101 Switching Protocols``
and from then on both sides speak frames (``frames.py``) over the same TCP
connection.  Everything here is bytes in, objects or bytes out: no sockets,
so every rule can be tested with the RFC's own example headers.

The request (§4.1) and the answer (§4.2.2), with the RFC's sample key::

    GET /chat HTTP/1.1                            HTTP/1.1 101 Switching Protocols
    Host: server.example.com                      Upgrade: websocket
    Upgrade: websocket                            Connection: Upgrade
    Connection: Upgrade                           Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
    Sec-WebSocket-Version: 13

The HTTP parser is deliberately tiny: a start line, ``Name: value`` header
lines, an empty line.  No bodies, no line folding, no chunking: a handshake
needs none of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# §1.3: a fixed GUID that no endpoint which does not understand WebSocket would use.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION = "13"  # §4.1 item 9: the only version this RFC defines
MAX_HEAD_SIZE = 16 * 1024  # a handshake is a few hundred bytes; refuse anything huge
MAX_HEADERS = 100


class HandshakeError(Exception):
    """The handshake cannot succeed; ``status`` is the HTTP status to answer with.

    On the server side, ``status`` goes on the error response (400, 426, ...).
    On the client side it is the status the server sent (or 0 if it sent garbage).
    ``headers`` are extra response headers, e.g. ``Sec-WebSocket-Version`` for 426.
    """

    def __init__(self, status: int, reason: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


def accept_key(key: str) -> str:
    """§1.3, §4.2.2 item 5.4: base64(SHA-1(key + GUID)), proof the server read the key."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


class Headers:
    """HTTP header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's value; repeated fields are joined with ", " (RFC 9110 §5.3)."""
        values = [value for key, value in self._items if key.lower() == name.lower()]
        return ", ".join(values) if values else default

    def tokens(self, name: str) -> list[str]:
        """A comma-separated field as lowercase tokens: ``Connection: keep-alive, Upgrade``."""
        value = self.get(name, "")
        return [token.strip().lower() for token in value.split(",") if token.strip()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the "resource name" of §4.1, e.g. "/chat?room=1"
    version: str
    headers: Headers


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    version: str
    headers: Headers


def split_head(buffer: bytes | bytearray) -> tuple[bytes, bytes] | None:
    """Bytes read so far -> (HTTP head up to the empty line, what follows), or None if incomplete.

    The bytes after the head already belong to the WebSocket: a server may send
    its first frame in the same TCP segment as its 101.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_SIZE:  # no end in sight: refuse before buffering more
            raise HandshakeError(431, f"HTTP head larger than {MAX_HEAD_SIZE} bytes")
        return None
    return bytes(buffer[:end + 4]), bytes(buffer[end + 4:])


def _split_head(head: bytes) -> tuple[str, Headers]:
    """Split an HTTP head into its start line and headers, enforcing the size limits."""
    if len(head) > MAX_HEAD_SIZE:
        raise HandshakeError(431, f"HTTP head larger than {MAX_HEAD_SIZE} bytes")
    # latin-1 never fails to decode, so odd bytes become odd characters, not crashes.
    lines = head.decode("latin-1").split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise HandshakeError(400, "empty HTTP head")
    if len(lines) - 1 > MAX_HEADERS:
        raise HandshakeError(431, f"more than {MAX_HEADERS} header fields")
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # RFC 9112 §5.1-5.2: no space before the colon, no obsolete line folding.
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise HandshakeError(400, f"malformed header line {line[:60]!r}")
        fields.append((name, value.strip(" \t")))
    return lines[0], Headers(fields)


def parse_request(head: bytes) -> Request:
    """Parse a request head (up to and including the blank line): ``GET /chat HTTP/1.1``..."""
    start, headers = _split_head(head)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HandshakeError(400, f"not an HTTP request line: {start[:60]!r}")
    method, target, version = parts
    return Request(method, target, version, headers)


def parse_response(head: bytes) -> Response:
    """Parse a response head: ``HTTP/1.1 101 Switching Protocols``..."""
    start, headers = _split_head(head)
    version, _, rest = start.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise HandshakeError(0, f"not an HTTP status line: {start[:60]!r}")
    return Response(int(code), reason, version, headers)


def _render(start_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [start_line, *(f"{name}: {value}" for name, value in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def build_request(host: str, resource: str, key: str, *, origin: str | None = None,
                  subprotocols: Sequence[str] = (),
                  extra_headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The client's opening handshake (§4.1).  ``key`` is injected: the caller draws it.

    ``host`` includes the port when it is not the default one (§4.1 item 4).
    """
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", VERSION),
    ]
    if origin is not None:
        headers.append(("Origin", origin))  # §4.1 item 8: browsers always send it
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))  # §4.1 item 10
    headers.extend(extra_headers)
    return _render(f"GET {resource} HTTP/1.1", headers)


def validate_request(request: Request) -> str:
    """Check a client's request as §4.2.1 lists; return its ``Sec-WebSocket-Key``.

    Raises :class:`HandshakeError` carrying the status the server should answer.
    """
    if request.method != "GET":  # §4.2.1 item 1
        raise HandshakeError(405, f"method must be GET, not {request.method}", [("Allow", "GET")])
    if request.version != "HTTP/1.1":  # item 1: "HTTP/1.1 or higher"; 2 and 3 never Upgrade
        raise HandshakeError(400, f"HTTP version must be HTTP/1.1, not {request.version}")
    headers = request.headers
    if "Host" not in headers:  # item 2
        raise HandshakeError(400, "missing Host header")
    if "websocket" not in headers.tokens("Upgrade"):  # item 3
        raise HandshakeError(400, "missing 'Upgrade: websocket' header")
    if "upgrade" not in headers.tokens("Connection"):  # item 4
        raise HandshakeError(400, "missing 'Connection: Upgrade' header")
    key = headers.get("Sec-WebSocket-Key")  # item 5: base64 of 16 random bytes
    if key is None:
        raise HandshakeError(400, "missing Sec-WebSocket-Key header")
    try:
        raw_key = base64.b64decode(key.encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        raw_key = b""
    if len(raw_key) != 16:
        raise HandshakeError(400, f"Sec-WebSocket-Key is not 16 bytes in base64: {key[:40]!r}")
    version = headers.get("Sec-WebSocket-Version")  # item 6
    if version != VERSION:
        # §4.4: answer 426 and say which version we do speak.
        raise HandshakeError(426, f"unsupported Sec-WebSocket-Version {version!r}",
                             [("Sec-WebSocket-Version", VERSION)])
    return key


def offered_subprotocols(headers: Headers) -> list[str]:
    """The subprotocols a client offered, in its order of preference (§4.1 item 10)."""
    value = headers.get("Sec-WebSocket-Protocol", "")
    return [token.strip() for token in value.split(",") if token.strip()]


def select_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """§4.2.2 item 5.4 /subprotocol/: the server picks one the client offered, or none.

    This server honours the client's order of preference.
    """
    for name in offered:
        if name in supported:
            return name
    return None


def build_response(key: str, subprotocol: str | None = None,
                   extra_headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The server's ``101 Switching Protocols`` answer (§4.2.2 item 5)."""
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    headers.extend(extra_headers)
    return _render("HTTP/1.1 101 Switching Protocols", headers)


REASONS = {400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout", 426: "Upgrade Required",
           431: "Request Header Fields Too Large", 500: "Internal Server Error"}


def build_error_response(error: HandshakeError) -> bytes:
    """A plain-text HTTP error that says what was wrong; the server closes afterwards."""
    body = f"Failed to open a WebSocket connection: {error.reason}.\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *error.headers,
    ]
    return _render(f"HTTP/1.1 {error.status} {REASONS.get(error.status, 'Error')}", headers) + body


def validate_response(response: Response, key: str, subprotocols: Sequence[str] = ()) -> str | None:
    """Check the server's answer as §4.1 (client requirements 1-6) lists.

    Returns the subprotocol the server selected, or None.  Any failure means
    the client must _Fail the WebSocket Connection_ (§7.1.7).
    """
    status = response.status
    if status != 101:  # item 1: anything else is plain HTTP, e.g. a 401 or a redirect
        raise HandshakeError(status, f"server answered {status} {response.reason}, not 101")
    headers = response.headers
    if "websocket" not in headers.tokens("Upgrade"):  # item 2
        raise HandshakeError(status, "response lacks 'Upgrade: websocket'")
    if "upgrade" not in headers.tokens("Connection"):  # item 3
        raise HandshakeError(status, "response lacks 'Connection: Upgrade'")
    accept = headers.get("Sec-WebSocket-Accept")  # item 4: proves the server understood us
    if accept != accept_key(key):
        raise HandshakeError(status, f"Sec-WebSocket-Accept {accept!r} does not match our key")
    if "Sec-WebSocket-Extensions" in headers:  # item 5: we offered no extensions
        raise HandshakeError(status, "server selected an extension we did not offer")
    subprotocol = headers.get("Sec-WebSocket-Protocol")  # item 6
    if subprotocol is not None and subprotocol not in subprotocols:
        raise HandshakeError(status, f"server selected subprotocol {subprotocol!r} we did not offer")
    return subprotocol
