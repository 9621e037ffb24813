"""The CA goes and looks: fetching HTTP-01 tokens and DNS TXT records (the I/O half of ``challenges.py``).

After ``ca_state.py`` in the reading order.  The verdicts are pure
(``challenges.judge_*``); this module only fetches what they judge:

- HTTP-01: a GET of ``http://NAME/.well-known/acme-challenge/TOKEN``.  Every
  name here lives on loopback, so the CA connects to ``http01_host``
  (127.0.0.1; in compose, the site's container) on ``http01_port`` (the
  "port 80" of this lab, as pebble's ``-httpPort``) and sends ``Host: NAME``;
  it follows no redirects (RFC 8555 §8.3 allows them; this CA keeps the
  lesson to one request).  :func:`http_get` writes that one request by hand
  and reads the answer until the server closes: one connection per
  validation, as a CA makes (no pool to reuse), and about a tenth of the CPU
  an httpx request costs (the README's benchmark; ``tests/acme/test_validation.py``
  checks it reads what httpx reads, chunked bodies included).
- DNS-01 and DNS-PERSIST-01: a TXT query sent to ``dns_server`` (host, port),
  a recursive resolver or the zone's authoritative server, with dnspython's
  stub (the wire codec being taught lives in the dns/ pattern, not here).
"""

from __future__ import annotations

import asyncio

import dns.asyncresolver
import dns.exception
import dns.resolver

from . import challenges as ch


class Validator:
    def __init__(
        self,
        http01_port: int = 80,
        dns_server: tuple[str, int] | None = None,
        timeout: float = 5.0,
        http01_host: str = "127.0.0.1",
    ) -> None:
        self.http01_port, self.dns_server, self.timeout = http01_port, dns_server, timeout
        self.http01_host = http01_host  # where every name's "port 80" is (a real CA resolves the name)

    async def http01(self, domain: str, token: str, expected: str) -> ch.Verdict:
        path = ch.http01_path(token)
        try:
            status, body = await http_get(self.http01_host, self.http01_port, path, domain, self.timeout)
        except (OSError, TimeoutError, ValueError) as error:
            return ch.Verdict(False, f"could not fetch http://{domain}{path}: {error!r}", "connection")
        return ch.judge_http01(expected, status, body)

    async def txt(self, name: str) -> list[str] | ch.Verdict:
        if self.dns_server is None:
            return ch.Verdict(False, "this CA was started without --dns-server", "dns")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [self.dns_server[0]]
        resolver.port = self.dns_server[1]
        resolver.lifetime = self.timeout
        try:
            answer = await resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            return ch.Verdict(False, f"TXT lookup of {name} failed: {error!r}", "dns")
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


BODY_LIMIT = 4096  # a key authorization is ~87 bytes; more is not one


async def http_get(host: str, port: int, path: str, host_header: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection: (status, body), the body cut at BODY_LIMIT bytes.

    ``Connection: close`` asks the server to end the response by closing, so
    the answer is read to EOF (bounded in size and time); a chunked body is
    unchained.  ValueError for an answer that is not HTTP.
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: wirelab-acme-ca\r\n"
                f"Accept: */*\r\nConnection: close\r\n\r\n".encode()
            )
            raw = await reader.read(64 * 1024)
            while chunk := await reader.read(64 * 1024):
                raw += chunk
                if len(raw) > 64 * 1024:
                    break  # enough to judge: the answer is not a key authorization anyway
        finally:
            writer.close()
    head, sep, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x response: {status_line[:60]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return int(parts[1]), body[:BODY_LIMIT]


def _dechunk(data: bytes) -> bytes:
    """A chunked body (RFC 9112 §7.1): hex size, CRLF, data, CRLF ... until size 0."""
    out, pos = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            raise ValueError("chunked body ends inside a chunk size")
        size = int(data[pos:line_end].split(b";")[0], 16)
        if size == 0 or len(out) > BODY_LIMIT:
            return bytes(out)
        out += data[line_end + 2 : line_end + 2 + size]
        pos = line_end + 2 + size + 2
