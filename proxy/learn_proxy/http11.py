"""HTTP/1.1 messages, sans-I/O: bytes in, events out (RFC 9112).

Reading order: **http11** -> routing -> forwarding -> rewrite -> seo -> pool -> exchange -> server.

A :class:`Reader` reads one direction of one connection: ``receive_data()``
(``b""`` for end of stream), then ``next_event()``: a :class:`Request` or
:class:`Response` (the head), :class:`Data` pieces of the body as they arrive
(never the whole body: that is how the proxy streams both ways), then
:class:`EndOfMessage`; ``start_next_cycle()`` reads the next message (§9.3).

The body's length is decided once, from the head (§6.3), in this order:
a response to HEAD, or a 1xx/204/304 response, has none; ``Transfer-Encoding:
chunked`` means chunks (§7.1); ``Content-Length`` means that many bytes; a
request with neither has none; a response with neither runs until the
connection closes.

``strict=True`` (the default) refuses, with :class:`ProtocolError` 400, every
head that two parsers could read differently, because a proxy and the server
behind it disagreeing on where a request ends is request smuggling
(§11.2): both ``Content-Length`` and ``Transfer-Encoding`` (§6.1), two
``Content-Length`` fields, obs-fold (a line starting with a space, §5.2),
a bare LF or bare CR instead of CRLF (§2.2), whitespace before a colon (§5.1),
zero or two ``Host`` fields (§3.2).  A head over ``max_head`` bytes is 431
(RFC 6585 §5).  ``strict=False`` is the lenient reading the smuggling attacks
rely on (the demo's ``--no-strict``): a bare LF ends a line, folds are joined,
``Transfer-Encoding`` wins over ``Content-Length``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Headers = tuple[tuple[str, str], ...]

# RFC 9110 §5.6.2: token = 1*tchar.  Field names and methods are tokens.
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# §5.5: a field value is visible characters, spaces and tabs; no CR, LF or NUL.
BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]\Z")
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")
NO_BODY_STATUS = {204, 304}
MAX_HEAD = 16 * 1024
MAX_CHUNK_LINE = 4096


class ProtocolError(Exception):
    """The peer broke the framing rules; ``status`` is what to answer (400, 431, 501...)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: Headers


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    version: str
    headers: Headers


@dataclass(frozen=True)
class Data:
    data: bytes


@dataclass(frozen=True)
class EndOfMessage:
    pass


NEED_DATA = "NEED_DATA"  # feed more bytes
PAUSED = "PAUSED"  # a message ended: call start_next_cycle() for the next one

Event = Request | Response | Data | EndOfMessage


def get(headers: Headers, name: str) -> str | None:
    """The first value of field ``name`` (case-insensitive), or None."""
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def get_all(headers: Headers, name: str) -> list[str]:
    name = name.lower()
    return [v for k, v in headers if k.lower() == name]


def connection_options(headers: Headers) -> set[str]:
    """The lowercase tokens of every Connection field (RFC 9110 §7.6.1)."""
    return {t.strip().lower() for v in get_all(headers, "connection") for t in v.split(",") if t.strip()}


def keep_alive(version: str, headers: Headers) -> bool:
    """Does this message leave the connection open (§9.3)?  1.1: unless close; 1.0: only if asked."""
    options = connection_options(headers)
    if version == "HTTP/1.1":
        return "close" not in options
    return "keep-alive" in options


class Reader:
    """Reads requests (``role="request"``) or responses (``"response"``) from one byte stream."""

    def __init__(self, role: str, *, strict: bool = True, max_head: int = MAX_HEAD) -> None:
        assert role in ("request", "response")
        self.role = role
        self.strict = strict
        self.max_head = max_head
        self.buffer = bytearray()
        self.eof = False
        self.state = "HEAD"  # HEAD -> BODY (length | chunked | close | none) -> DONE
        self.framing = ""
        self.remaining = 0  # bytes left: of the body (length) or of the current chunk (chunked)
        self.chunk_state = "SIZE"  # SIZE -> DATA -> DATA_CRLF -> SIZE ... -> TRAILER
        self.request_method = "GET"  # a response's framing depends on what was asked (HEAD)

    def receive_data(self, data: bytes) -> None:
        if data:
            self.buffer += data
        else:
            self.eof = True

    def expect_response_to(self, method: str) -> None:
        self.request_method = method

    def start_next_cycle(self) -> None:
        assert self.state == "DONE", self.state
        self.state, self.framing, self.chunk_state = "HEAD", "", "SIZE"

    def trailing_data(self) -> bytes:
        """Bytes already received past the last message (after a 101, they belong to the new protocol)."""
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def next_event(self) -> Event | str:
        if self.state == "HEAD":
            return self._head()
        if self.state == "DONE":
            return PAUSED
        if self.framing == "none":
            return self._done()
        if self.framing == "length":
            return self._length_body()
        if self.framing == "chunked":
            return self._chunked_body()
        return self._close_body()

    def _done(self) -> EndOfMessage:
        self.state = "DONE"
        return EndOfMessage()

    def _head(self) -> Event | str:
        if self.role == "request":
            # §2.2: a server SHOULD ignore at least one empty line before a request-line.
            while self.buffer[:2] == b"\r\n":
                del self.buffer[:2]
        end = self._head_end()
        if end < 0:
            if len(self.buffer) > self.max_head:
                raise self._too_big()
            if self.eof and self.buffer:
                raise ProtocolError(400, "connection closed inside a message head")
            return NEED_DATA  # (at EOF with nothing buffered: a clean close between messages)
        if end > self.max_head:
            raise self._too_big()
        head = bytes(self.buffer[:end])
        del self.buffer[:end]
        lines = self._split_lines(head)
        start, fields = lines[0], self._fields(lines[1:])
        if self.role == "request":
            event: Request | Response = self._request(start, fields)
        else:
            event = self._response(start, fields)
        self.state = "BODY"
        self.framing = self._framing(event)
        if self.framing == "length" and self.remaining == 0:
            self.framing = "none"
        return event

    def _too_big(self) -> ProtocolError:
        if self.role == "request":
            return ProtocolError(431, f"request header fields larger than {self.max_head} bytes")
        return ProtocolError(502, f"response head larger than {self.max_head} bytes")

    def _head_end(self) -> int:
        """Index just past the empty line that ends the head, or -1.

        Looks for LF LF as well as LF CR LF so that a head ended with bare LFs is
        found (and refused, when strict) instead of waited on forever.
        """
        found = [i for i in (self.buffer.find(b"\n\r\n"), self.buffer.find(b"\n\n")) if i >= 0]
        if not found:
            return -1
        i = min(found)
        return i + (3 if self.buffer[i + 1 : i + 2] == b"\r" else 2)

    def _split_lines(self, head: bytes) -> list[bytes]:
        if self.strict:
            body = head[:-4] if head.endswith(b"\r\n\r\n") else None
            if body is None:
                raise ProtocolError(400, "bare LF: lines must end with CRLF (RFC 9112 §2.2)")
            lines = body.split(b"\r\n")
            for line in lines:
                if b"\n" in line:
                    raise ProtocolError(400, "bare LF: lines must end with CRLF (RFC 9112 §2.2)")
                if b"\r" in line:
                    raise ProtocolError(400, "bare CR in the head (RFC 9112 §2.2)")
            return lines
        return [line.rstrip(b"\r") for line in head.rstrip(b"\r\n").split(b"\n")]

    def _fields(self, lines: list[bytes]) -> Headers:
        fields: list[tuple[str, str]] = []
        for line in lines:
            if line[:1] in (b" ", b"\t"):
                if self.strict or not fields:
                    raise ProtocolError(400, "obs-fold: a field line starts with whitespace (RFC 9112 §5.2)")
                name, value = fields.pop()  # lenient: join the fold to the previous value
                fields.append((name, f"{value} {line.strip().decode('latin-1')}"))
                continue
            name, colon, value = line.partition(b":")
            if not colon:
                raise ProtocolError(400, f"field line without a colon: {line[:40]!r}")
            if not TOKEN.match(name):
                if self.strict or not TOKEN.match(name.rstrip()):
                    raise ProtocolError(400, f"bad field name {name[:40]!r} (whitespace before ':', §5.1)")
                name = name.rstrip()
            value = value.strip(b" \t")
            if BAD_VALUE.search(value):
                raise ProtocolError(400, f"control character in field {name.decode()!r}")
            fields.append((name.decode("ascii"), value.decode("latin-1")))
        return tuple(fields)

    def _request(self, line: bytes, headers: Headers) -> Request:
        parts = line.split(b" ")
        if len(parts) != 3 or not TOKEN.match(parts[0]) or not parts[1]:
            raise ProtocolError(400, f"malformed request-line {line[:60]!r} (RFC 9112 §3)")
        method, target, version = parts
        if not VERSION.match(version):
            raise ProtocolError(400, f"bad HTTP-version {version[:20]!r}")
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise ProtocolError(505, f"{version.decode()} not supported")
        if BAD_VALUE.search(target) or b" " in target:
            raise ProtocolError(400, "control character in the request-target")
        hosts = get_all(headers, "host")
        if self.strict and (len(hosts) > 1 or (version == b"HTTP/1.1" and not hosts)):
            raise ProtocolError(400, f"{len(hosts)} Host fields: HTTP/1.1 needs exactly one (RFC 9112 §3.2)")
        return Request(method.decode("ascii"), target.decode("latin-1"), version.decode(), headers)

    def _response(self, line: bytes, headers: Headers) -> Response:
        version, _, rest = line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not VERSION.match(version) or not re.fullmatch(rb"[0-9]{3}", code):
            raise ProtocolError(502, f"malformed status-line {line[:60]!r}")
        return Response(int(code), reason.decode("latin-1"), version.decode(), headers)

    def _framing(self, event: Request | Response) -> str:
        """RFC 9112 §6.3, in its order; sets ``self.remaining`` for a length body."""
        if isinstance(event, Response):
            if self.request_method == "HEAD" or event.status < 200 or event.status in NO_BODY_STATUS:
                return "none"
        bad = 400 if isinstance(event, Request) else 502
        te = get_all(event.headers, "transfer-encoding")
        lengths = get_all(event.headers, "content-length")
        if te and lengths and self.strict:
            raise ProtocolError(bad, "both Transfer-Encoding and Content-Length (RFC 9112 §6.1)")
        if te:
            if event.version == "HTTP/1.0" and self.strict:
                raise ProtocolError(bad, "Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1)")
            codings = [c.strip().lower() for v in te for c in v.split(",")]
            if codings[-1] != "chunked":
                if isinstance(event, Response):
                    return "close"  # §6.3 item 4: a response then runs until close
                raise ProtocolError(400, "Transfer-Encoding without chunked last (RFC 9112 §6.3)")
            if codings != ["chunked"]:
                raise ProtocolError(
                    501 if isinstance(event, Request) else 502, f"transfer coding {te} not implemented"
                )
            return "chunked"
        if lengths:
            if len(lengths) > 1 and self.strict:
                raise ProtocolError(bad, f"{len(lengths)} Content-Length fields (RFC 9112 §6.3)")
            value = lengths[-1].strip()
            if not value.isdigit() or len(value) > 18:
                raise ProtocolError(bad, f"bad Content-Length {value[:20]!r}")
            self.remaining = int(value)
            return "length"
        return "none" if isinstance(event, Request) else "close"

    def _length_body(self) -> Event | str:
        if self.remaining == 0:
            return self._done()
        if not self.buffer:
            if self.eof:
                raise ProtocolError(
                    400 if self.role == "request" else 502,
                    f"connection closed {self.remaining} bytes before the body's end",
                )
            return NEED_DATA
        piece = bytes(self.buffer[: self.remaining])
        del self.buffer[: len(piece)]
        self.remaining -= len(piece)
        return Data(piece)

    def _close_body(self) -> Event | str:
        if self.buffer:
            piece = bytes(self.buffer)
            self.buffer.clear()
            return Data(piece)
        return self._done() if self.eof else NEED_DATA

    def _chunked_body(self) -> Event | str:
        """§7.1: chunk-size [ext] CRLF, data CRLF, ..., 0 CRLF, trailer fields, CRLF."""
        bad = 400 if self.role == "request" else 502
        while True:
            if self.chunk_state in ("SIZE", "TRAILER"):
                line = self._line(bad)
                if line is None:
                    return NEED_DATA
                if self.chunk_state == "TRAILER":
                    if line == b"":
                        return self._done()
                    continue  # trailer fields are dropped: we do not forward trailers
                size = line.split(b";", 1)[0].strip(b" \t")  # chunk-ext is ignored (§7.1.1)
                if not CHUNK_SIZE.match(size):
                    raise ProtocolError(bad, f"bad chunk-size {line[:20]!r}")
                self.remaining = int(size, 16)
                self.chunk_state = "DATA" if self.remaining else "TRAILER"
            elif self.chunk_state == "DATA":
                if not self.buffer:
                    return self._need(bad)
                piece = bytes(self.buffer[: self.remaining])
                del self.buffer[: len(piece)]
                self.remaining -= len(piece)
                if self.remaining == 0:
                    self.chunk_state = "DATA_CRLF"
                return Data(piece)
            else:  # DATA_CRLF
                if len(self.buffer) < 2:
                    return self._need(bad)
                if self.buffer[:2] != b"\r\n":
                    raise ProtocolError(bad, "chunk data not followed by CRLF")
                del self.buffer[:2]
                self.chunk_state = "SIZE"

    def _need(self, bad: int) -> str:
        if self.eof:
            raise ProtocolError(bad, "connection closed inside a chunked body")
        return NEED_DATA

    def _line(self, bad: int) -> bytes | None:
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) > MAX_CHUNK_LINE:
                raise ProtocolError(bad, "chunk line too long")
            self._need(bad)
            return None
        line = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]
        if line.endswith(b"\r\n"):
            return line[:-2]
        if self.strict:
            raise ProtocolError(bad, "bare LF in chunked framing (RFC 9112 §7.1)")
        return line.rstrip(b"\r\n")


# Writing: a head, and a body's chunks (RFC 9112 §7.1).


def serialize_head(start_line: str, headers: Headers) -> bytes:
    lines = [start_line, *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request_head(method: str, target: str, headers: Headers) -> bytes:
    return serialize_head(f"{method} {target} HTTP/1.1", headers)


def response_head(status: int, reason: str, headers: Headers) -> bytes:
    return serialize_head(f"HTTP/1.1 {status} {reason}", headers)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (never empty: the empty chunk is :data:`LAST_CHUNK`)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"
