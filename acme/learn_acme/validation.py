"""The CA goes and looks: fetching HTTP-01 tokens and DNS TXT records (the I/O half of ``challenges.py``).

After ``ca_state.py`` in the reading order.  The verdicts are pure
(``challenges.judge_*``); this module only fetches what they judge:

- HTTP-01: a GET of ``http://NAME/.well-known/acme-challenge/TOKEN``.  Every
  name here lives on loopback, so the CA connects to 127.0.0.1 on
  ``http01_port`` (the "port 80" of this lab, as pebble's ``-httpPort``) and
  sends ``Host: NAME``; it follows no redirects (RFC 8555 §8.3 allows them;
  this CA keeps the lesson to one request).
- DNS-01 and DNS-PERSIST-01: a TXT query sent to ``dns_server`` (host, port),
  a recursive resolver or the zone's authoritative server, with dnspython's
  stub (the wire codec being taught lives in the dns/ pattern, not here).
"""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx

from . import challenges as ch


class Validator:
    def __init__(
        self, http01_port: int = 80, dns_server: tuple[str, int] | None = None, timeout: float = 5.0
    ) -> None:
        self.http01_port, self.dns_server, self.timeout = http01_port, dns_server, timeout
        self.http: httpx.AsyncClient | None = None  # plain HTTP only: port 80 has no TLS to verify

    async def http01(self, domain: str, token: str, expected: str) -> ch.Verdict:
        url = f"http://127.0.0.1:{self.http01_port}{ch.http01_path(token)}"
        try:
            if self.http is None:  # one client for every validation: building one costs milliseconds
                self.http = httpx.AsyncClient(timeout=self.timeout, trust_env=False, verify=False)
            response = await self.http.get(url, headers={"Host": domain})
        except httpx.HTTPError as error:
            return ch.Verdict(
                False, f"could not fetch http://{domain}{ch.http01_path(token)}: {error!r}", "connection"
            )
        return ch.judge_http01(expected, response.status_code, response.content[:4096])

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
